/*
 * fg_alpc: ALPC ports, connections, messages and ALPC waits laid out on an
 * fg_kernel (with the field offsets of its layout), and the ALPC sample: the
 * seed's logoff hang on top of fg_sample, with a record of everything
 * written so tests can check every accessor against it.
 *
 * Ports are written as the kernel keeps them: an object (optional creator
 * and name information, OBJECT_HEADER with InfoMask, the ALPC_PORT body),
 * linked into nt!AlpcpPortList through PortListEntry, every queue an empty
 * list; nt!ObpInfoMaskToOffset is filled when a port is made. A connection
 * port's ALPC_COMMUNICATION_INFO names it as ConnectionPort; each
 * connection's communication info (shared by its server and client
 * communication ports) is linked into the connection port's
 * CommunicationList.
 *
 * This is test code: allocation failures abort.
 */
#ifndef FG_ALPC_H
#define FG_ALPC_H

#include "fg_sample.h"
#include "khang/alpc.h"

/* Each function takes the forge (for reads) and the kernel laid out in it. */

/* A port owned by a process (named when name is not NULL), on the port
 * list, without communication info yet. Returns the ALPC_PORT address. */
uint64_t fg_alpc_port(fg_forge *f, fg_kernel *k, uint64_t owner, const char *name);
/* A named connection port of a server process. */
uint64_t fg_alpc_connection_port(fg_forge *f, fg_kernel *k, uint64_t owner, const char *name);
/* Connect a client process to a server's connection port: a server
 * communication port (owned by the server) and a client communication port
 * (owned by the client), sharing one communication info linked into the
 * connection port's list. Returns the communication info. */
uint64_t fg_alpc_connect(fg_forge *f, fg_kernel *k, uint64_t connection_port, uint64_t server, uint64_t client,
                         uint64_t *server_port, uint64_t *client_port);
/* A message queued on one of port's queues (its length counted):
 * PortQueue = port, OwnerPort = owner_port, WaitingThread, ServerThread. */
uint64_t fg_alpc_message(fg_forge *f, fg_kernel *k, uint64_t port, khang_alpc_queue queue, uint64_t owner_port,
                         uint64_t waiting_thread, uint64_t server_thread);
/* A client waiting for the reply to message: Waiting, WrLpcReply, user
 * mode, since wait_time, on its ETHREAD.AlpcWaitSemaphore, with
 * ETHREAD.AlpcMessage and AlpcMessageId. */
void fg_alpc_wait_reply(fg_forge *f, fg_kernel *k, uint64_t thread, uint64_t message, uint32_t message_id,
                        uint32_t wait_time);
/* A server thread waiting to receive on a port: Waiting, WrLpcReceive, on
 * the port's semaphore, on the port's wait queue through
 * ETHREAD.AlpcWaitListEntry (length counted). */
void fg_alpc_wait_receive(fg_forge *f, fg_kernel *k, uint64_t thread, uint64_t port, uint32_t wait_time);

/* ---- the ALPC sample ------------------------------------------------------------ */

#define FG_ALPC_MAX_PORTS 48
#define FG_ALPC_MAX_WAITS 8

typedef struct fg_alpc_port_rec {
	uint64_t va;
	uint64_t owner;
	const char *name;          /* NULL: unnamed */
	khang_alpc_kind kind;
	uint64_t ci;
	uint64_t connection, server, client;  /* the communication info's ports (connection: itself, 0, 0) */
	int64_t qlen[KHANG_ALPC_QUEUE_COUNT];  /* -1: the layout has no such queue */
	unsigned nconnections;     /* a connection port's */
	uint64_t connections[8];   /* their communication infos, in list order */
	uint64_t messages[4];      /* main queue messages, in order */
	unsigned nmessages;
	uint64_t pending[4];       /* pending queue messages */
	unsigned npending;
	uint64_t receivers[4];     /* wait queue threads */
	unsigned nreceivers;
} fg_alpc_port_rec;

typedef struct fg_alpc_wait_rec {
	uint64_t thread, process;
	uint64_t message;
	uint32_t message_id;
	uint32_t wait_time;
	uint64_t queue_port, owner_port, connection_port;
	khang_alpc_kind queue_kind;
	uint64_t server_process, server_thread;
} fg_alpc_wait_rec;

typedef struct fg_alpc_sample {
	fg_sample *s;
	/* processes (EPROCESS addresses) */
	uint64_t system, svchost, explorer, csrss, dllhost, rdpclip;
	/* ports in list order */
	fg_alpc_port_rec ports[FG_ALPC_MAX_PORTS];
	unsigned nports;
	/* the connection ports */
	unsigned ole, api, lsm, pdc;      /* indexes in ports[] */
	/* the ALPC waits, in the order khang_alpc_wait_next gives them */
	fg_alpc_wait_rec waits[FG_ALPC_MAX_WAITS];
	unsigned nwaits;
	uint64_t seed_thread;             /* the svchost thread of the seed (1:25.406, no server thread) */
	uint64_t server_thread;           /* the svchost thread working on dllhost's request */
	uint64_t receivers[2];            /* threads waiting to receive (LSMApi, ApiPort) */
} fg_alpc_sample;

/* Build the ALPC sample for a layout (x64 or x86). Aborts on failure. */
fg_alpc_sample *fg_alpc_sample_new(const kh_layout *l);
void fg_alpc_sample_free(fg_alpc_sample *a);
/* Index in ports[] of the port at va, or -1. */
int fg_alpc_sample_port_index(const fg_alpc_sample *a, uint64_t va);

/* The base dumps of fuzz/fuzz_alpc (and tests/forge/mk_alpc_corpus.c):
 * the ALPC sample on 0 x64 Windows 10 2004 (by GUID), 1 x64 Windows 7 SP1,
 * 2 x86 PAE Windows 7 (no symbols: the port list is found through the
 * threads), 3 x64 Windows 11 21H2; written as FG_ALPC_FORMAT. */
#define FG_ALPC_BASES 4
#define FG_ALPC_FORMAT FG_FMT_BITMAP_KERNEL
fg_alpc_sample *fg_alpc_base(int index);

#endif /* FG_ALPC_H */
