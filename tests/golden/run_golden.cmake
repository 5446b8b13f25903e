# Run one khang command and compare its output with a golden file.
#   -DKHANG=path/to/khang -DARGS="cmd|--json|dump|..." -DGOLDEN=file
#   -DRC=expected exit status (default 0) -DSTDERR=regex stderr must match
#   -DJSON=1 also parse stdout as JSON with -DPYTHON=python3 (when given)
# With the environment variable KHANG_UPDATE_GOLDEN=1 the golden file is
# rewritten from the output instead (review the diff before committing).
if(NOT DEFINED RC)
  set(RC 0)
endif()
string(REPLACE "|" ";" ARGS "${ARGS}")
get_filename_component(name "${GOLDEN}" NAME_WE)
if(NOT name)
  set(name golden)
endif()
execute_process(COMMAND ${KHANG} ${ARGS}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL RC)
  message(FATAL_ERROR "exit status ${rc}, expected ${RC}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED STDERR AND NOT err MATCHES "${STDERR}")
  message(FATAL_ERROR "stderr does not match '${STDERR}':\n${err}")
endif()
if(JSON AND PYTHON)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}.json "${out}")
  execute_process(COMMAND ${PYTHON} -c
    "import json,sys; d=json.load(open(sys.argv[1])); assert d['schema']==1 and 'command' in d"
    ${CMAKE_CURRENT_BINARY_DIR}/${name}.json RESULT_VARIABLE jrc ERROR_VARIABLE jerr)
  if(NOT jrc EQUAL 0)
    message(FATAL_ERROR "not one valid JSON document with schema 1: ${jerr}\n${out}")
  endif()
endif()
if(GOLDEN)
  if("$ENV{KHANG_UPDATE_GOLDEN}" STREQUAL "1")
    file(WRITE ${GOLDEN} "${out}")
    message(STATUS "updated ${GOLDEN}")
    return()
  endif()
  file(READ ${GOLDEN} want)
  if(NOT out STREQUAL want)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}.actual "${out}")
    message(FATAL_ERROR "output differs from ${GOLDEN} (see ${CMAKE_CURRENT_BINARY_DIR}/${name}.actual):\n${out}")
  endif()
endif()
