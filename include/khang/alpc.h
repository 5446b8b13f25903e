/**
 * @file khang/alpc.h
 * @brief ALPC ports and ALPC waits: which process owns a port, who is
 *        connected to whom, what is queued, and which threads wait for a
 *        reply from which server (what WinDbg's !alpc /lpp, !alpc /p,
 *        !alpc /m and !lpcwait show).
 *
 * Most user-visible hangs are waits across processes over ALPC (RPC, COM,
 * LPC): a client thread sends a request and waits (wait reason
 * WrLpcReply) until a thread of the server process replies.
 *
 * Ports: every ALPC port is linked into the kernel's global list
 * (nt!AlpcpPortList through ALPC_PORT.PortListEntry); there is no
 * per-process list, so "the ports of a process" are the ports of that list
 * whose ALPC_PORT.OwnerProcess is the process. A port's kind comes from its
 * ALPC_COMMUNICATION_INFO: a connection port (the named port a server
 * listens on) is its own ConnectionPort; each connection to it has a server
 * communication port (owned by the server) and a client communication port
 * (owned by the client), which share one communication info linked into
 * the connection port's CommunicationInfo.CommunicationList. A port's name
 * comes from its object header (OBJECT_HEADER.InfoMask and the name
 * information in front of the header); only connection ports are named.
 *
 * Where nt!AlpcpPortList is unknown (layouts without symbols: the built-in
 * x86 and by-build tables), the list is reached from a port found through
 * the threads (a client's message, a server thread on a port's wait queue)
 * and its head is the entry inside the kernel image.
 *
 * Waits: a client thread waiting for a reply is in the Waiting state with
 * wait reason WrLpcReply and ETHREAD.AlpcMessage names its request
 * (KALPC_MESSAGE); the message's PortQueue is the port whose queue holds
 * it, the connection port of that port's connection leads to the server
 * process, and KALPC_MESSAGE.ServerThread is the server thread that took
 * the message (none while it is still queued). Windows 7 and Windows 8 and
 * later lay KALPC_MESSAGE out differently; both are handled through the
 * layout.
 *
 * Every list walk (the port list, each queue, a connection port's
 * connections) is bounded by the source's max_list_entries and cycle-safe.
 * A damaged element (an unreadable port on the list, a broken queue, a
 * message or port pointer that does not lead to a port) is skipped and
 * counted, with a warning on the source; it never ends the analysis.
 *
 * Lifetimes: a port (@ref khang_alpc_port) and the arrays and strings it
 * gives are borrowed from the iterator that returned it and stay valid
 * until that iterator is freed. The process and thread handles given here
 * are borrowed from the source (see khang/process.h, khang/thread.h).
 *
 * Everything here needs the kernel's structure layout with the ALPC
 * structures: in limited mode, or with a layout that lacks them, the
 * functions that take a source return KHANG_EUNSUPPORTED.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_ALPC_H
#define KHANG_ALPC_H

#include "common.h"
#include "process.h"
#include "source.h"
#include "thread.h"

KHANG_BEGIN_DECL

/** @brief An ALPC port (opaque, borrowed from the iterator that returned it). */
typedef struct khang_alpc_port khang_alpc_port;
/** @brief Iterator over ALPC ports. */
typedef struct khang_alpc_port_iter khang_alpc_port_iter;
/** @brief Iterator over the threads that wait for an ALPC reply. */
typedef struct khang_alpc_wait_iter khang_alpc_wait_iter;

/** @brief What a port is within its connection. Values are stable. */
typedef enum khang_alpc_kind {
	KHANG_ALPC_KIND_UNKNOWN = 0,              /**< its communication info is unreadable or does not name it */
	KHANG_ALPC_KIND_CONNECTION = 1,           /**< a connection port: the (named) port a server listens on */
	KHANG_ALPC_KIND_SERVER_COMMUNICATION = 2, /**< the server's end of one connection */
	KHANG_ALPC_KIND_CLIENT_COMMUNICATION = 3  /**< the client's end of one connection */
} khang_alpc_kind;

/** @brief The queues of a port. Values are stable. */
typedef enum khang_alpc_queue {
	KHANG_ALPC_QUEUE_MAIN = 0,          /**< MainQueue: messages not yet received (KALPC_MESSAGE) */
	KHANG_ALPC_QUEUE_PENDING = 1,       /**< PendingQueue: received messages awaiting a reply (KALPC_MESSAGE) */
	KHANG_ALPC_QUEUE_LARGE_MESSAGE = 2, /**< LargeMessageQueue (KALPC_MESSAGE) */
	KHANG_ALPC_QUEUE_WAIT = 3,          /**< WaitQueue: threads waiting to receive (ETHREAD.AlpcWaitListEntry) */
	KHANG_ALPC_QUEUE_CANCELED = 4,      /**< CanceledQueue (KALPC_MESSAGE) */
	KHANG_ALPC_QUEUE_DIRECT = 5         /**< DirectQueue (KALPC_MESSAGE; Windows 10 and later) */
} khang_alpc_queue;

/** Number of queues (one past the largest @ref khang_alpc_queue value). */
#define KHANG_ALPC_QUEUE_COUNT 6

/**
 * @brief Short stable name of a port kind: "connection", "server",
 *        "client" or "unknown".
 * @param kind any value
 * @return a static string, never NULL ("unknown" for a value out of range).
 *         Thread-safe.
 */
KHANG_API const char *khang_alpc_kind_name(khang_alpc_kind kind);

/**
 * @brief Short stable name of a queue: "main", "pending", "large-message",
 *        "wait", "canceled" or "direct".
 * @param queue any value
 * @return a static string, never NULL ("unknown" for a value out of range).
 *         Thread-safe.
 */
KHANG_API const char *khang_alpc_queue_name(khang_alpc_queue queue);

/* ---- ports ------------------------------------------------------------------------ */

/**
 * @brief Start iterating ALPC ports: all ports of the system, or the ports a
 *        process owns (ALPC_PORT.OwnerProcess), in the order of the global
 *        port list. The list is walked and the ports read here, once.
 *
 * The ports of a process are what !alpc /lpp lists: its connection ports
 * ("ports created by the process", with their connections), its server
 * communication ports, and its client communication ports ("ports the
 * process is connected to", with the connection port and the server on the
 * other side).
 * @param[out] out the new iterator (NULL on failure); free it with
 *             khang_alpc_port_iter_free()
 * @param src the source
 * @param process a process (borrowed from the same source), or NULL for all
 * @return 0; KHANG_EINVAL (NULL or bad handle, or a process of another
 *         source); KHANG_EUNSUPPORTED (limited mode, a dump without a
 *         kernel address space, a layout without the ALPC structures);
 *         KHANG_ENOTFOUND (nt!AlpcpPortList is unknown and no port could be
 *         found through the threads); KHANG_ENOMEM. A broken port list ends
 *         with the ports read before the break and counts as skipped.
 */
KHANG_API int khang_alpc_port_iter_new(khang_alpc_port_iter **out, khang_source *src, const khang_process *process);

/**
 * @brief Next port.
 * @param[out] out the port (borrowed from the iterator)
 * @param it the iterator
 * @return 0; KHANG_ITEROVER at the end; KHANG_EINVAL.
 */
KHANG_API int khang_alpc_port_next(const khang_alpc_port **out, khang_alpc_port_iter *it);

/**
 * @brief Free an iterator and the ports it gave (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_alpc_port_iter_free(khang_alpc_port_iter *it);

/**
 * @brief Damaged entries of the port list that were skipped (a port that
 *        cannot be read, a broken list).
 * @param it the iterator (NULL gives 0)
 * @return the count, 0 when the walk was complete.
 */
KHANG_API uint32_t khang_alpc_port_iter_skipped(const khang_alpc_port_iter *it);

/**
 * @brief Address of the port (the ALPC_PORT object body).
 * @param port the port
 * @return the address; 0 for NULL or an invalid handle.
 */
KHANG_API uint64_t khang_alpc_port_address(const khang_alpc_port *port);

/**
 * @brief The port's object name ("ApiPort", "OLE68D957..."), from its
 *        object header's name information.
 * @param port the port
 * @return a string borrowed from the iterator, never NULL; "" for an
 *         unnamed port (communication ports have no name) or when unreadable.
 */
KHANG_API const char *khang_alpc_port_name(const khang_alpc_port *port);

/**
 * @brief What the port is within its connection.
 * @param port the port
 * @return the kind; KHANG_ALPC_KIND_UNKNOWN when unknown.
 */
KHANG_API khang_alpc_kind khang_alpc_port_kind(const khang_alpc_port *port);

/**
 * @brief Address of the owning process (ALPC_PORT.OwnerProcess).
 * @param port the port
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_alpc_port_owner_address(const khang_alpc_port *port);

/**
 * @brief The owning process.
 * @param[out] out the process (borrowed from the source)
 * @param port the port
 * @return 0; KHANG_ENOTFOUND (no owner); KHANG_ECORRUPT (OwnerProcess does
 *         not point to a process); KHANG_ENOTPRESENT; KHANG_EINVAL.
 */
KHANG_API int khang_alpc_port_owner(const khang_process **out, const khang_alpc_port *port);

/**
 * @brief Address of the port's ALPC_COMMUNICATION_INFO.
 * @param port the port
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_alpc_port_communication_info(const khang_alpc_port *port);

/**
 * @brief The connection port of the port's connection
 *        (CommunicationInfo.ConnectionPort; a connection port's own address).
 * @param port the port
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_alpc_port_connection_port(const khang_alpc_port *port);

/**
 * @brief The server communication port of the port's connection
 *        (CommunicationInfo.ServerCommunicationPort).
 * @param port the port
 * @return the address; 0 for a connection port or when unknown.
 */
KHANG_API uint64_t khang_alpc_port_server_port(const khang_alpc_port *port);

/**
 * @brief The client communication port of the port's connection
 *        (CommunicationInfo.ClientCommunicationPort).
 * @param port the port
 * @return the address; 0 for a connection port or when unknown.
 */
KHANG_API uint64_t khang_alpc_port_client_port(const khang_alpc_port *port);

/**
 * @brief Name of the connection port of the port's connection (for a
 *        client port: the port it is connected to, "ApiPort").
 * @param port the port
 * @return a string borrowed from the iterator, never NULL; "" when unnamed
 *         or unknown.
 */
KHANG_API const char *khang_alpc_port_connection_name(const khang_alpc_port *port);

/**
 * @brief Address of the server process of the port's connection: the owner
 *        of its connection port.
 * @param port the port
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_alpc_port_server_process_address(const khang_alpc_port *port);

/**
 * @brief The server process of the port's connection (the owner of its
 *        connection port; for a client port, the process on the other side).
 * @param[out] out the process (borrowed from the source)
 * @param port the port
 * @return 0; KHANG_ENOTFOUND (unknown); KHANG_ECORRUPT (not a process);
 *         KHANG_ENOTPRESENT; KHANG_EINVAL.
 */
KHANG_API int khang_alpc_port_server_process(const khang_process **out, const khang_alpc_port *port);

/**
 * @brief Messages queued on the connection port of the port's connection
 *        (for a client port: the server's backlog), as
 *        khang_alpc_port_queued() counts them.
 * @param port the port
 * @return the count; -1 when unknown.
 */
KHANG_API int64_t khang_alpc_port_connection_queued(const khang_alpc_port *port);

/**
 * @brief The length the port records for a queue (ALPC_PORT.MainQueueLength,
 *        PendingQueueLength, ...).
 * @param port the port
 * @param queue the queue
 * @return the length; -1 when unknown (the layout lacks the queue, the page
 *         is missing, a value out of range).
 */
KHANG_API int64_t khang_alpc_port_queue_length(const khang_alpc_port *port, khang_alpc_queue queue);

/**
 * @brief Messages queued on the port: the recorded lengths of its main,
 *        large-message and pending queues added (what !alpc /lpp prints
 *        after each port).
 * @param port the port
 * @return the count; -1 when one of the lengths is unknown.
 */
KHANG_API int64_t khang_alpc_port_queued(const khang_alpc_port *port);

/**
 * @brief The entries of a queue, walked on first use: KALPC_MESSAGE
 *        addresses, or for KHANG_ALPC_QUEUE_WAIT the ETHREAD addresses of
 *        the threads waiting to receive. Bounded and cycle-safe; a broken
 *        queue (unreadable link, loop, a missing page in the middle) gives
 *        the entries read before the break and counts in
 *        khang_alpc_port_skipped().
 * @param[out] out receives an array borrowed from the iterator (NULL when
 *             the queue is empty)
 * @param[out] count receives the number of entries
 * @param port the port
 * @param queue the queue
 * @return 0; KHANG_ENOTFOUND (the layout lacks that queue); KHANG_EINVAL;
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_alpc_port_queue(const uint64_t **out, size_t *count, const khang_alpc_port *port,
                                    khang_alpc_queue queue);

/**
 * @brief Whether the port is closed (ALPC_PORT.u1.s1.Closed).
 * @param port the port
 * @return 1, 0, or -1 when unknown.
 */
KHANG_API int khang_alpc_port_is_closed(const khang_alpc_port *port);

/**
 * @brief Whether the port is disconnected (ALPC_PORT.u1.s1.Disconnected).
 * @param port the port
 * @return 1, 0, or -1 when unknown.
 */
KHANG_API int khang_alpc_port_is_disconnected(const khang_alpc_port *port);

/**
 * @brief Damaged parts of this port skipped so far: broken queues and a
 *        broken or unreadable connection list (counted as they are read).
 * @param port the port
 * @return the count (0 for NULL or an invalid handle).
 */
KHANG_API uint32_t khang_alpc_port_skipped(const khang_alpc_port *port);

/* ---- connections of a connection port ------------------------------------------------ */

/**
 * @brief One connection to a connection port. Fill @c size first
 *        (KHANG_ALPC_CONNECTION_INIT).
 */
typedef struct khang_alpc_connection {
	size_t size;                           /**< sizeof(khang_alpc_connection) */
	uint64_t communication_info;           /**< the connection's ALPC_COMMUNICATION_INFO */
	uint64_t server_port;                  /**< its server communication port, 0 if none */
	uint64_t client_port;                  /**< its client communication port, 0 if none */
	int64_t server_queued;                 /**< messages queued on the server port (see khang_alpc_port_queued()), -1 unknown */
	int64_t client_queued;                 /**< messages queued on the client port, -1 unknown */
	uint64_t server_process_address;       /**< owner of the server port, 0 unknown */
	const khang_process *server_process;   /**< that process (borrowed from the source), NULL when unreadable */
	uint64_t client_process_address;       /**< owner of the client port, 0 unknown */
	const khang_process *client_process;   /**< that process (borrowed from the source), NULL when unreadable */
} khang_alpc_connection;

/** Static initialiser for @ref khang_alpc_connection. */
#define KHANG_ALPC_CONNECTION_INIT KHANG_SIZED_INIT(khang_alpc_connection)

/**
 * @brief Number of connections of a connection port (its
 *        CommunicationInfo.CommunicationList), read on first use, bounded
 *        and cycle-safe; 0 for other kinds of ports. A broken list gives the
 *        connections read before the break and counts in
 *        khang_alpc_port_skipped().
 * @param port the port
 * @return the count, or a negative code (KHANG_EINVAL, KHANG_ENOMEM).
 */
KHANG_API int khang_alpc_port_connection_count(const khang_alpc_port *port);

/**
 * @brief One connection of a connection port.
 * @param[out] out filled up to out->size bytes (out->size must be set)
 * @param port the port
 * @param index 0 .. khang_alpc_port_connection_count() - 1
 * @return 0; KHANG_ENOTFOUND (index out of range); KHANG_EINVAL;
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_alpc_port_connection(khang_alpc_connection *out, const khang_alpc_port *port, size_t index);

/**
 * @brief The object name of the ALPC port at an address, read from its
 *        object header (for ports met as addresses, e.g. in an ALPC wait).
 * @param[out] buf receives the NUL-terminated UTF-8 name ("" when the port
 *             has none), truncated to fit
 * @param len size of @p buf
 * @param src the source
 * @param port the ALPC_PORT address
 * @return the length of the full name (like snprintf); KHANG_EINVAL (NULL
 *         buf with len > 0, bad source); KHANG_EUNSUPPORTED (no layout);
 *         KHANG_ENOTPRESENT (its object header is not in the dump).
 */
KHANG_API int khang_alpc_port_name_at(char *buf, size_t len, khang_source *src, uint64_t port);

/* ---- waits ----------------------------------------------------------------------------- */

/**
 * @brief A thread waiting for an ALPC reply, and whom it waits for. Fill
 *        @c size first (KHANG_ALPC_WAIT_INIT).
 *
 * When the message cannot be read, or does not name the thread as its
 * WaitingThread (stale or damaged), @c message_ok is 0 and the port,
 * server and server thread fields are 0/NULL.
 */
typedef struct khang_alpc_wait {
	size_t size;                           /**< sizeof(khang_alpc_wait) */
	const khang_thread *thread;            /**< the waiting (client) thread, borrowed from the source */
	uint64_t thread_address;               /**< its ETHREAD address */
	uint64_t client_process_address;       /**< its process (KTHREAD.Process) */
	const khang_process *client_process;   /**< that process (borrowed), NULL when unreadable */
	int64_t wait_ms;                       /**< how long the client has waited (ms), -1 unknown */
	uint64_t message;                      /**< the request: ETHREAD.AlpcMessage (KALPC_MESSAGE) */
	uint64_t message_id;                   /**< ETHREAD.AlpcMessageId, 0 when unknown */
	int32_t message_ok;                    /**< 1 if the message was read and names this thread as its WaitingThread */
	khang_alpc_kind queue_port_kind;       /**< the kind of @c queue_port */
	uint64_t queue_port;                   /**< KALPC_MESSAGE.PortQueue: the port whose queue holds the message, 0 unknown */
	uint64_t owner_port;                   /**< KALPC_MESSAGE.OwnerPort: the port the message was sent through, 0 unknown */
	uint64_t connection_port;              /**< the server's connection port, 0 unknown */
	uint64_t server_process_address;       /**< the server process (owner of the connection port), 0 unknown */
	const khang_process *server_process;   /**< that process (borrowed), NULL when unknown */
	uint64_t server_thread_address;        /**< KALPC_MESSAGE.ServerThread: the server thread working on the message; 0 while no server thread has taken it */
	const khang_thread *server_thread;     /**< that thread (borrowed), NULL when none or unreadable */
} khang_alpc_wait;

/** Static initialiser for @ref khang_alpc_wait. */
#define KHANG_ALPC_WAIT_INIT KHANG_SIZED_INIT(khang_alpc_wait)

/**
 * @brief Whether a thread waits for an ALPC reply, and for whom: the thread
 *        is Waiting with wait reason WrLpcReply and ETHREAD.AlpcMessage
 *        names its request.
 * @param[out] out filled up to out->size bytes (out->size must be set)
 * @param thread the thread
 * @return 0 (also when the message or its ports are damaged: see
 *         khang_alpc_wait.message_ok); KHANG_ENOTFOUND (the thread does not
 *         wait for an ALPC reply, or has no ALPC message);
 *         KHANG_EUNSUPPORTED (the layout lacks ETHREAD.AlpcMessage or
 *         KALPC_MESSAGE); KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_thread_alpc_wait(khang_alpc_wait *out, const khang_thread *thread);

/**
 * @brief Start iterating the threads of the system that wait for an ALPC
 *        reply (the !lpcwait view), grouped by server: waits on the same
 *        server process and connection port come together, groups in the
 *        order their first thread appears in the thread walk, threads in
 *        thread order within a group (waits whose server is unknown last).
 *        All threads are read here, once.
 * @param[out] out the new iterator (NULL on failure); free it with
 *             khang_alpc_wait_iter_free()
 * @param src the source
 * @return 0; KHANG_EINVAL; KHANG_EUNSUPPORTED (limited mode, a layout
 *         without the thread or ALPC fields); KHANG_ENOTFOUND
 *         (nt!PsActiveProcessHead unknown); KHANG_ENOMEM.
 */
KHANG_API int khang_alpc_wait_iter_new(khang_alpc_wait_iter **out, khang_source *src);

/**
 * @brief Next wait.
 * @param[out] out filled up to out->size bytes (out->size must be set)
 * @param it the iterator
 * @return 0; KHANG_ITEROVER at the end; KHANG_EINVAL.
 */
KHANG_API int khang_alpc_wait_next(khang_alpc_wait *out, khang_alpc_wait_iter *it);

/**
 * @brief Free an iterator (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_alpc_wait_iter_free(khang_alpc_wait_iter *it);

/**
 * @brief Damage met while collecting the waits: damaged thread list
 *        entries (as khang_thread_iter_skipped() counts them), and waits
 *        whose message, port or server thread pointer could not be followed
 *        (those waits are still returned, with what could be read).
 * @param it the iterator (NULL gives 0)
 * @return the count.
 */
KHANG_API uint32_t khang_alpc_wait_iter_skipped(const khang_alpc_wait_iter *it);

KHANG_END_DECL

#endif /* KHANG_ALPC_H */
