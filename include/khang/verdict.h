/**
 * @file khang/verdict.h
 * @brief The hang verdict: a wait-for graph over threads, dispatcher
 *        objects, locks and processes, rules that name what hangs and why,
 *        the evidence chain, and the checks made on the way.
 *
 * khang_hang_verdict() builds the graph once from the threads' wait blocks
 * (mutant owners, thread objects, ERESOURCE owners), then applies rules in
 * order; the first that finds a cause gives the verdict:
 * 1. a crash bugcheck (not a hang-type code): a crash, not a hang;
 * 2. a deadlock: a cycle of threads each waiting for the next;
 * 3. a lock chain: threads waiting a long time behind a lock owner that is
 *    itself blocked or running;
 * 4. CPU starvation: busy processors while ready threads wait long;
 * 5. otherwise: no hang cause found, with what was checked.
 *
 * Thread safety: as for the source. A verdict is independent of the source's
 * iterators but borrows its thread and process handles: free it before the
 * source.
 */
#ifndef KHANG_VERDICT_H
#define KHANG_VERDICT_H

#include "common.h"
#include "process.h"
#include "source.h"
#include "thread.h"

KHANG_BEGIN_DECL

/** @brief An analysis result (opaque, owned by the caller). */
typedef struct khang_verdict khang_verdict;

/** @brief What the verdict found. Values are stable. */
typedef enum khang_verdict_category {
	KHANG_VERDICT_NO_HANG = 0,          /**< no hang cause found (healthy or idle system) */
	KHANG_VERDICT_ALPC_CHAIN = 1,       /**< a cross-process ALPC wait chain */
	KHANG_VERDICT_DEADLOCK = 2,         /**< threads waiting on each other in a cycle */
	KHANG_VERDICT_LOCK_CHAIN = 3,       /**< threads blocked behind one lock owner */
	KHANG_VERDICT_BLOCKED_IN_DRIVER = 4,/**< threads blocked inside a third-party driver; also a driver a
	                                         hang bugcheck names (a DPC that ran too long, 0x133; a power IRP
	                                         not completed, 0x9F), and threads waiting long on I/O pending in
	                                         the disk stack when nothing else explains the hang */
	KHANG_VERDICT_CPU_STARVATION = 5,   /**< busy processors starve ready threads */
	KHANG_VERDICT_CRASH = 6,            /**< the dump records a crash, not a hang */
	KHANG_VERDICT_UNKNOWN = 7           /**< the dump could not be analysed (see warnings) */
} khang_verdict_category;

/** Number of categories (one past the largest value). */
#define KHANG_VERDICT_CATEGORY_COUNT 8

/**
 * @brief Short stable name of a category ("deadlock", "cpu-starvation", ...).
 * @param c any value
 * @return a static string ("invalid" for an unknown value). Thread-safe.
 */
KHANG_API const char *khang_verdict_category_name(khang_verdict_category c);

/** @brief Options (KHANG_VERDICT_OPTS_INIT). */
typedef struct khang_verdict_opts {
	size_t size;              /**< sizeof(khang_verdict_opts) */
	uint32_t long_wait_ms;    /**< a wait at least this long is suspicious (0: 30000) */
	uint32_t ready_wait_ms;   /**< a ready thread waiting this long is starved (0: 2000) */
} khang_verdict_opts;

/** Static initialiser for @ref khang_verdict_opts. */
#define KHANG_VERDICT_OPTS_INIT KHANG_SIZED_INIT(khang_verdict_opts)

/**
 * @brief Analyse the dump.
 *
 * Rules in order: the bugcheck (a crash ends the analysis; a hang-type
 * bugcheck is explained from its parameters, and DPC_WATCHDOG_VIOLATION and
 * DRIVER_POWER_STATE_FAILURE with parameter 1 = 3 or 4 name their culprit
 * driver, which decides the verdict), then the wait-for graph: deadlock,
 * ALPC chain, lock chain, blocked in a third-party driver, CPU starvation;
 * last, long waits on I/O pending in the disk stack (the storage check).
 * @param[out] out the verdict; free with khang_verdict_free(). Also set when
 *             the category is KHANG_VERDICT_UNKNOWN (its warnings say why).
 * @param src the source
 * @param opts options, or NULL for defaults
 * @return 0; KHANG_EINVAL; KHANG_ENOMEM. Problems in the dump are not
 *         errors: they lower the confidence and add warnings.
 */
KHANG_API int khang_hang_verdict(khang_verdict **out, khang_source *src, const khang_verdict_opts *opts);

/**
 * @brief Free a verdict.
 * @param v the verdict, or NULL (nothing happens)
 */
KHANG_API void khang_verdict_free(khang_verdict *v);

/**
 * @brief The category.
 * @param v the verdict
 * @return the category (KHANG_VERDICT_UNKNOWN for NULL).
 */
KHANG_API khang_verdict_category khang_verdict_get_category(const khang_verdict *v);

/**
 * @brief One-line summary, e.g. "deadlock: 2 threads of app.exe wait on each
 *        other's mutants".
 * @param v the verdict
 * @return a string owned by the verdict ("" for NULL).
 */
KHANG_API const char *khang_verdict_summary(const khang_verdict *v);

/**
 * @brief Confidence in the verdict, 0 to 100.
 * @param v the verdict
 * @return the confidence (0 for NULL).
 */
KHANG_API int khang_verdict_confidence(const khang_verdict *v);

/**
 * @brief The culprit: the thread the evidence ends at (NULL if none).
 * @param v the verdict
 * @return a thread borrowed from the source, or NULL.
 */
KHANG_API const khang_thread *khang_verdict_culprit_thread(const khang_verdict *v);

/**
 * @brief The culprit process (NULL if none).
 * @param v the verdict
 * @return a process borrowed from the source, or NULL.
 */
KHANG_API const khang_process *khang_verdict_culprit_process(const khang_verdict *v);

/**
 * @brief The culprit module (a driver name such as "TmXPFlt.sys"), "" if none.
 * @param v the verdict
 * @return a string owned by the verdict.
 */
KHANG_API const char *khang_verdict_culprit_module(const khang_verdict *v);

/** @brief What a step of the evidence chain is about. */
typedef enum khang_step_kind {
	KHANG_STEP_THREAD = 1,    /**< a thread and what it waits on */
	KHANG_STEP_OBJECT = 2,    /**< a dispatcher object or lock and its owner */
	KHANG_STEP_PROCESS = 3,   /**< a process */
	KHANG_STEP_PROCESSOR = 4, /**< a processor and what runs on it */
	KHANG_STEP_NOTE = 5       /**< a finding in words */
} khang_step_kind;

/** @brief One step of the evidence chain (KHANG_VERDICT_STEP_INIT). */
typedef struct khang_verdict_step {
	size_t size;                   /**< sizeof(khang_verdict_step) */
	khang_step_kind kind;          /**< what the step is about */
	const khang_thread *thread;    /**< the thread, or NULL */
	const khang_process *process;  /**< the process, or NULL */
	uint64_t object;               /**< the object or lock address, or 0 */
	int64_t wait_ms;               /**< how long the thread has waited (or been ready), -1 if unknown */
	const char *text;              /**< the step in words (owned by the verdict) */
} khang_verdict_step;

/** Static initialiser for @ref khang_verdict_step. */
#define KHANG_VERDICT_STEP_INIT KHANG_SIZED_INIT(khang_verdict_step)

/**
 * @brief Number of steps in the evidence chain.
 * @param v the verdict
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_verdict_step_count(const khang_verdict *v);

/**
 * @brief One step.
 * @param[out] out filled up to out->size bytes
 * @param v the verdict
 * @param index 0 .. count - 1
 * @return 0, KHANG_ERANGE, KHANG_EINVAL.
 */
KHANG_API int khang_verdict_step_at(khang_verdict_step *out, const khang_verdict *v, size_t index);

/** @brief Outcome of one check. */
typedef enum khang_check_status {
	KHANG_CHECK_OK = 0,          /**< nothing wrong found */
	KHANG_CHECK_FOUND = 1,       /**< a problem was found (it may be the cause) */
	KHANG_CHECK_NOT_RUN = 2      /**< could not be checked (see the text) */
} khang_check_status;

/** @brief One check made during the analysis (KHANG_VERDICT_CHECK_INIT). */
typedef struct khang_verdict_check {
	size_t size;                  /**< sizeof(khang_verdict_check) */
	const char *name;             /**< "bugcheck", "cpu", "ready", "locks", "waits", "memory", "alpc", "storage" */
	khang_check_status status;    /**< the outcome */
	const char *text;             /**< what was found, in words */
} khang_verdict_check;

/** Static initialiser for @ref khang_verdict_check. */
#define KHANG_VERDICT_CHECK_INIT KHANG_SIZED_INIT(khang_verdict_check)

/**
 * @brief Number of checks made.
 * @param v the verdict
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_verdict_check_count(const khang_verdict *v);

/**
 * @brief One check.
 * @param[out] out filled up to out->size bytes
 * @param v the verdict
 * @param index 0 .. count - 1
 * @return 0, KHANG_ERANGE, KHANG_EINVAL.
 */
KHANG_API int khang_verdict_check_at(khang_verdict_check *out, const khang_verdict *v, size_t index);

/**
 * @brief Number of warnings (damaged or missing data met during the analysis).
 * @param v the verdict
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_verdict_warning_count(const khang_verdict *v);

/**
 * @brief One warning.
 * @param v the verdict
 * @param index 0 .. count - 1
 * @return a string owned by the verdict, or NULL if out of range.
 */
KHANG_API const char *khang_verdict_warning(const khang_verdict *v, size_t index);

/** @brief Kinds of node in the wait-for graph. */
typedef enum khang_node_kind {
	KHANG_NODE_THREAD = 1,   /**< a thread (ETHREAD address) */
	KHANG_NODE_OBJECT = 2,   /**< a dispatcher object */
	KHANG_NODE_LOCK = 3,     /**< an ERESOURCE */
	KHANG_NODE_PROCESS = 4,  /**< a process */
	KHANG_NODE_PORT = 5,     /**< an ALPC port */
	KHANG_NODE_MODULE = 6    /**< a module (by base address) */
} khang_node_kind;

/** @brief Kinds of edge. */
typedef enum khang_edge_kind {
	KHANG_EDGE_WAITS_ON = 1,   /**< thread waits on object or lock */
	KHANG_EDGE_OWNED_BY = 2,   /**< object or lock is owned by thread (a thread object: the thread itself) */
	KHANG_EDGE_REPLY_FROM = 3, /**< thread waits for a reply from a port, process or thread */
	KHANG_EDGE_BLOCKED_IN = 4  /**< thread is blocked inside a module */
} khang_edge_kind;

/** @brief One edge of the wait-for graph (KHANG_VERDICT_EDGE_INIT). */
typedef struct khang_verdict_edge {
	size_t size;              /**< sizeof(khang_verdict_edge) */
	khang_edge_kind kind;     /**< the relation */
	khang_node_kind from_kind;/**< kind of the source node */
	uint64_t from;            /**< its address */
	khang_node_kind to_kind;  /**< kind of the target node */
	uint64_t to;              /**< its address */
} khang_verdict_edge;

/** Static initialiser for @ref khang_verdict_edge. */
#define KHANG_VERDICT_EDGE_INIT KHANG_SIZED_INIT(khang_verdict_edge)

/**
 * @brief Number of edges in the wait-for graph.
 * @param v the verdict
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_verdict_edge_count(const khang_verdict *v);

/**
 * @brief One edge.
 * @param[out] out filled up to out->size bytes
 * @param v the verdict
 * @param index 0 .. count - 1
 * @return 0, KHANG_ERANGE, KHANG_EINVAL.
 */
KHANG_API int khang_verdict_edge_at(khang_verdict_edge *out, const khang_verdict *v, size_t index);

/**
 * @brief The verdict as one JSON document (schema version 1): category,
 *        summary, confidence, culprit, chain, checks, warnings, graph size.
 * @param v the verdict
 * @return a NUL-terminated string owned by the verdict, or NULL on
 *         allocation failure (KHANG_ENOMEM recorded).
 */
KHANG_API const char *khang_verdict_json(khang_verdict *v);

/**
 * @brief The evidence chain as a Graphviz DOT graph.
 * @param v the verdict
 * @return a NUL-terminated string owned by the verdict, or NULL on
 *         allocation failure.
 */
KHANG_API const char *khang_verdict_dot(khang_verdict *v);

KHANG_END_DECL

#endif /* KHANG_VERDICT_H */
