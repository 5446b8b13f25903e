/*
 * The ALPC layer (internal): ports on the global port list, their
 * connections and queues, and the threads waiting for an ALPC reply.
 *
 * Built on the object layer (processes and threads are looked up through
 * its per-source cache, kh_find_process / kh_find_thread). The ALPC layer
 * keeps no per-source cache of its own: the source has one cache hook
 * (src->objects), which the object layer owns. So ports live in the
 * iterator that read them (freed with it), and waits are plain values that
 * borrow only the object layer's handles. Every call reads what it needs:
 * a port is about ten bounded reads, a wait a few more.
 *
 * Structures are read into a local buffer (kh_alpc_buf) with one bounded
 * virtual read per page, remembering which pages were readable, so a
 * structure that straddles a missing page still gives the fields that are
 * there.
 */
#ifndef KH_ALPC_INT_H
#define KH_ALPC_INT_H

#include "khang/alpc.h"
#include "objects/objects.h"

#define KH_ALPC_PORT_MAGIC 0x4b48414cu   /* 'KHAL' */
#define KH_ALPC_BUF_MAX 0x400u           /* bytes of one ALPC structure read at once */
#define KH_ALPC_NAME_MAX 1600u           /* UTF-8 bytes of a port name (1024 UTF-16 bytes read at most) */
#define KH_ALPC_MAX_SEEDS 32u            /* ports tried to reach the port list without nt!AlpcpPortList */

/* What one call needs: the source, its object cache and layout, and the
 * per-build constants. Filled by kh_alpc_env_init (cheap). */
typedef struct kh_alpc_env {
	khang_source *src;
	kh_objects *o;
	const kh_layout *l;
	kh_kernel *k;
	unsigned ps;                  /* pointer size */
	int64_t wr_lpc_reply;         /* _KWAIT_REASON WrLpcReply on this build */
	int64_t wr_lpc_receive;       /* WrLpcReceive */
} kh_alpc_env;

/* KHANG_EUNSUPPORTED (with a message) when the layout lacks what the ALPC
 * layer reads; what for: "ports" (the port structures) or "waits" (also the
 * message and ETHREAD fields). */
int kh_alpc_env_init(kh_alpc_env *e, khang_source *src, bool waits);

/* A structure read page by page. */
typedef struct kh_alpc_buf {
	uint64_t va;
	uint32_t len;
	uint32_t valid;               /* bit i: page i of the span was readable */
	uint8_t data[KH_ALPC_BUF_MAX];
} kh_alpc_buf;

/* Read the struct `sid` at va (at most KH_ALPC_BUF_MAX bytes). 0 when at
 * least one page was readable, else KHANG_ENOTPRESENT. */
int kh_alpc_buf_read(const kh_alpc_env *e, kh_alpc_buf *b, uint64_t va, kh_struct_id sid);
/* An integer field of the buffer's struct: 0, KHANG_ENOTFOUND (not in the
 * layout) or KHANG_ENOTPRESENT (its bytes are not readable). Pointers are
 * masked to 32 bits on x86. */
int kh_alpc_buf_u64(const kh_alpc_env *e, const kh_alpc_buf *b, kh_field_id id, uint64_t *out);

/* The facts of one port, as read from the dump. */
typedef struct kh_alpc_portinfo {
	uint64_t va;
	uint64_t owner;               /* OwnerProcess */
	uint64_t ci;                  /* CommunicationInfo */
	uint64_t conn, server, client;/* the CI's three ports (0 unknown) */
	khang_alpc_kind kind;
	int64_t qlen[KHANG_ALPC_QUEUE_COUNT]; /* -1 unknown */
	int closed, disconnected;     /* -1 unknown */
} kh_alpc_portinfo;

/* Read the port at va. KHANG_ENOTPRESENT when its OwnerProcess and
 * CommunicationInfo cannot be read (no error message is recorded). */
int kh_alpc_read_port(const kh_alpc_env *e, uint64_t va, kh_alpc_portinfo *out);
/* A port met through a pointer (a message's PortQueue, ...) is believed
 * when it reads and its owner is a process object. */
bool kh_alpc_port_plausible(const kh_alpc_env *e, uint64_t va, kh_alpc_portinfo *out);
/* Messages queued (main + large + pending recorded lengths), -1 unknown. */
int64_t kh_alpc_queued(const kh_alpc_portinfo *pi);

/* The object name of the object whose body is at va ("" when unnamed).
 * Returns the full length, or KHANG_ENOTPRESENT (no error message is
 * recorded). */
int kh_alpc_object_name(const kh_alpc_env *e, uint64_t body, char *out, size_t cap);

/* The layout fields of a queue: its list head in ALPC_PORT, its recorded
 * length, and the link of the entries (KALPC_MESSAGE.Entry or
 * ETHREAD.AlpcWaitListEntry). */
typedef struct kh_alpc_queue_fields {
	kh_field_id head, length, link;
} kh_alpc_queue_fields;
extern const kh_alpc_queue_fields kh_alpc_queues[KHANG_ALPC_QUEUE_COUNT];

/* The head of nt!AlpcpPortList: the global when the layout knows it, else
 * found from a port reached through the threads (the entry of the list
 * that lies in the kernel image). 0 and KHANG_ENOTFOUND when neither. */
int kh_alpc_port_list_head(const kh_alpc_env *e, uint64_t *out);

/* The ALPC wait of a thread (khang_thread_alpc_wait). warn: record
 * warnings for damage on the source. *damage (may be NULL) counts the
 * pointers that could not be followed. KHANG_ENOTFOUND when the thread
 * does not wait for a reply (no error message is recorded then unless
 * want_error). */
int kh_alpc_thread_wait(const kh_alpc_env *e, khang_thread *t, khang_alpc_wait *w, bool warn, uint32_t *damage,
                        bool want_error);

#endif /* KH_ALPC_INT_H */
