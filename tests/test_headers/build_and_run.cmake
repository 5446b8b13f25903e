# cmake -DBUILD=dir -DTARGET=t1[;t2...] [-DRUN=program] -P build_and_run.cmake
# Builds the targets (they are excluded from `all`), then runs RUN if given.
foreach(t IN LISTS TARGET)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target ${t}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building ${t} failed")
  endif()
endforeach()
if(RUN)
  execute_process(COMMAND ${RUN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${RUN} failed: ${rc}")
  endif()
endif()
