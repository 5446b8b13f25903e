/**
 * @file khang/process.h
 * @brief Processes of the dumped system (EPROCESS): the active process list,
 *        lookups by PID and address, and what WinDbg's !process 0 0 and
 *        Mex's !mex.p show.
 *
 * The active process list (nt!PsActiveProcessHead through
 * EPROCESS.ActiveProcessLinks) is walked once, on first use, bounded by the
 * source's max_list_entries and cycle-safe. An entry that does not hold a
 * process object (DISPATCHER_HEADER.Type is not ProcessObject) or whose
 * page is missing is skipped and counted (khang_process_iter_skipped()), and
 * a warning is recorded on the source; a broken link ends the walk with what
 * was read before it and counts as one skipped entry.
 *
 * Process handles are borrowed from the source: valid as long as the source,
 * never freed by the caller. Processes that are on no list (the Idle process
 * of the idle threads, a process named by a wait object) are read from their
 * address when asked for and kept with the source too.
 *
 * Unknown values (a field the layout lacks, a page not in the dump) read as
 * -1 for signed accessors, 0 for addresses and times, "" for strings.
 *
 * Everything here needs the kernel's structure layout: in limited mode the
 * functions that take a source return KHANG_EUNSUPPORTED.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_PROCESS_H
#define KHANG_PROCESS_H

#include "common.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief A process (opaque, borrowed from the source). */
typedef struct khang_process khang_process;
/** @brief Iterator over the active processes. */
typedef struct khang_process_iter khang_process_iter;
/** @brief A thread (opaque, borrowed from the source; see khang/thread.h). */
typedef struct khang_thread khang_thread;

/**
 * @brief Start iterating the active process list, in list order (System first).
 * @param[out] out the new iterator (NULL on failure); free it with
 *             khang_process_iter_free()
 * @param src the source
 * @return 0; KHANG_EINVAL; KHANG_EUNSUPPORTED (limited mode, a dump without
 *         a kernel address space, or a layout without the EPROCESS fields);
 *         KHANG_ENOTFOUND (nt!PsActiveProcessHead is unknown);
 *         KHANG_ENOMEM. Same thread rules as the source.
 */
KHANG_API int khang_process_iter_new(khang_process_iter **out, khang_source *src);

/**
 * @brief Next process.
 * @param[out] out the process (borrowed from the source)
 * @param it the iterator
 * @return 0, KHANG_ITEROVER at the end, or KHANG_EINVAL.
 */
KHANG_API int khang_process_next(const khang_process **out, khang_process_iter *it);

/**
 * @brief Free an iterator (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_process_iter_free(khang_process_iter *it);

/**
 * @brief Damaged entries of the active process list that were skipped.
 * @param it the iterator (NULL gives 0)
 * @return the count, 0 when the walk was complete.
 */
KHANG_API uint32_t khang_process_iter_skipped(const khang_process_iter *it);

/**
 * @brief Find an active process by process id.
 * @param[out] out the process (borrowed)
 * @param src the source
 * @param pid the process id (UniqueProcessId)
 * @return 0; KHANG_ENOTFOUND; or an error as for khang_process_iter_new().
 */
KHANG_API int khang_process_by_pid(const khang_process **out, khang_source *src, uint64_t pid);

/**
 * @brief The process whose EPROCESS is at an address: one of the active list,
 *        or else read from that address if it holds a process object.
 * @param[out] out the process (borrowed)
 * @param src the source
 * @param va the EPROCESS address
 * @return 0; KHANG_ECORRUPT (the address does not hold a process object);
 *         KHANG_ENOTPRESENT (its page is not in the dump); KHANG_ELIMIT (too
 *         many such processes were asked for); or an error as for
 *         khang_process_iter_new().
 */
KHANG_API int khang_process_by_address(const khang_process **out, khang_source *src, uint64_t va);

/**
 * @brief Address of the EPROCESS (also the KPROCESS).
 * @param p the process
 * @return the address.
 */
KHANG_API uint64_t khang_process_address(const khang_process *p);
/**
 * @brief Process id (UniqueProcessId).
 * @param p the process
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_process_pid(const khang_process *p);
/**
 * @brief Parent process id (InheritedFromUniqueProcessId).
 * @param p the process
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_process_parent_pid(const khang_process *p);
/**
 * @brief Short image name (EPROCESS.ImageFileName, at most 15 characters: "explorer.exe").
 * @param p the process
 * @return a string borrowed from the source, never NULL; "" when unknown.
 */
KHANG_API const char *khang_process_name(const khang_process *p);
/**
 * @brief Full image path as the kernel recorded it
 *        ("\\Device\\HarddiskVolume1\\Windows\\explorer.exe",
 *        SeAuditProcessCreationInfo.ImageFileName), read on first use.
 * @param p the process
 * @return a string borrowed from the source, never NULL; "" when absent or
 *         unreadable.
 */
KHANG_API const char *khang_process_image_path(const khang_process *p);
/**
 * @brief Session id (EPROCESS.Session->SessionId).
 * @param p the process
 * @return the value; -1 for no session (System, smss) or unknown.
 */
KHANG_API int64_t khang_process_session_id(const khang_process *p);
/**
 * @brief Creation time as a FILETIME (100 ns since 1601, UTC).
 * @param p the process
 * @return the time; 0 when unknown.
 */
KHANG_API uint64_t khang_process_create_time(const khang_process *p);
/**
 * @brief Page directory base (KPROCESS.DirectoryTableBase: the process's CR3).
 * @param p the process
 * @return the value; 0 when unknown.
 */
KHANG_API uint64_t khang_process_dtb(const khang_process *p);
/**
 * @brief Threads the kernel counts as active (EPROCESS.ActiveThreads).
 * @param p the process
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_process_thread_count(const khang_process *p);
/**
 * @brief Open handles, when readable: HANDLE_TABLE.HandleCount on Windows 7;
 *        on Windows 8 and later the sum of the handle table's free lists'
 *        counts, which needs nt!ExpFreeListCount from the layout's symbols.
 * @param p the process
 * @return the count, or -1 when unknown (no handle table, page missing,
 *         ExpFreeListCount unknown).
 */
KHANG_API int64_t khang_process_handle_count(const khang_process *p);
/**
 * @brief User-mode PEB address.
 * @param p the process
 * @return the address; 0 for none (System) or unknown.
 */
KHANG_API uint64_t khang_process_peb(const khang_process *p);
/**
 * @brief Exit time as a FILETIME.
 * @param p the process
 * @return the time; 0 when the process has not exited or unknown.
 */
KHANG_API uint64_t khang_process_exit_time(const khang_process *p);
/**
 * @brief Whether the process is exiting or has exited (EPROCESS.Flags
 *        ProcessExiting or ProcessDelete, or an exit time).
 * @param p the process
 * @return 1, 0, or -1 when unknown.
 */
KHANG_API int khang_process_is_exiting(const khang_process *p);
/**
 * @brief Whether the process has a Win32 (GUI) part (EPROCESS.Win32Process).
 * @param p the process
 * @return 1, 0, or -1 when unknown.
 */
KHANG_API int khang_process_is_gui(const khang_process *p);
/**
 * @brief Base priority (KPROCESS.BasePriority).
 * @param p the process
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_process_base_priority(const khang_process *p);

/**
 * @brief The process's main thread: the earliest created of its threads
 *        (ETHREAD.CreateTime; the first on its thread list when times are
 *        equal or unknown). For a GUI process this is normally the thread
 *        that runs WinMain and pumps its messages.
 * @param[out] out the thread (borrowed)
 * @param p the process
 * @return 0; KHANG_ENOTFOUND (no thread could be read); KHANG_EINVAL;
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_process_main_thread(const khang_thread **out, const khang_process *p);

KHANG_END_DECL

#endif /* KHANG_PROCESS_H */
