/* Writes the seed corpus of fuzz/fuzz_alpc: for each of its base dumps
 * (fg_alpc_base), the untouched dump and patches that damage what the ALPC
 * layer walks: a port list that loops, garbage port, thread and process
 * pointers in messages and ports, a message naming another thread, queues
 * and a connection list that loop, a communication info that points at its
 * own port, an object name of absurd length, an object header naming every
 * optional header, a huge queue length. Each input is "base, flags,
 * records"; see fuzz/fuzz_alpc.c. usage: mk_alpc_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alpc.h"

typedef struct recipe {
	uint8_t data[256];
	size_t len;
} recipe;

typedef struct ctx {
	const char *dir;
	int base;
	fg_alpc_sample *a;
	uint64_t first_page;
	unsigned ps;
	int bad;
} ctx;

static void start(recipe *r, const ctx *c, uint8_t flags)
{
	r->data[0] = (uint8_t)c->base;
	r->data[1] = flags;
	r->len = 2;
}

/* A record writing n bytes (1..8) of value v at kernel VA va. */
static void patch(recipe *r, ctx *c, uint64_t va, uint64_t v, unsigned n)
{
	int64_t off = fg_sample_file_offset(c->a->s, FG_ALPC_FORMAT, va);
	if (off < 0 || (uint64_t)off < c->first_page || n < 1 || n > 8 || r->len + 5 + n > sizeof(r->data)) {
		fprintf(stderr, "mk_alpc_corpus: base %d: cannot patch 0x%llx\n", c->base, (unsigned long long)va);
		c->bad = 1;
		return;
	}
	uint32_t a = (uint32_t)((uint64_t)off - c->first_page);
	for (int i = 0; i < 4; i++)
		r->data[r->len++] = (uint8_t)(a >> (8 * i));
	r->data[r->len++] = (uint8_t)(n - 1);
	for (unsigned i = 0; i < n; i++)
		r->data[r->len++] = (uint8_t)(v >> (8 * i));
}

static void field(recipe *r, ctx *c, uint64_t va, kh_field_id id, uint64_t v)
{
	const kh_field *f = kh_layout_field(c->a->s->l, id);
	if (!kh_field_present(f) || f->kind == KH_FK_BITFIELD || f->size > 8) {
		fprintf(stderr, "mk_alpc_corpus: no plain field %s\n", kh_field_name(id));
		c->bad = 1;
		return;
	}
	patch(r, c, va + f->offset, v, f->size);
}

static void save(ctx *c, const char *name, const recipe *r)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s_%d", c->dir, name, c->base);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(r->data, 1, r->len, f) != r->len) {
		fprintf(stderr, "%s: cannot write\n", path);
		c->bad = 1;
	}
	if (f && fclose(f) != 0)
		c->bad = 1;
}

static uint32_t off(const ctx *c, kh_field_id id)
{
	return kh_layout_offset(c->a->s->l, id);
}

static int one_base(const char *dir, int base)
{
	ctx c = { dir, base, fg_alpc_base(base), 0, 0, 0 };
	recipe r;
	if (!c.a || fg_sample_first_page(c.a->s, FG_ALPC_FORMAT, &c.first_page) != 0)
		return 1;
	const fg_alpc_sample *a = c.a;
	const kh_layout *l = a->s->l;
	c.ps = a->s->x86 ? 4 : 8;
	const fg_alpc_port_rec *ole = &a->ports[a->ole], *lsm = &a->ports[a->lsm];
	uint64_t garbage = a->s->x86 ? 0x82000123u : 0xfffff80412000123ull;

	start(&r, &c, 0);
	save(&c, "clean", &r);
	start(&r, &c, 1);
	save(&c, "small_lists", &r);

	uint32_t link = off(&c, KH_F_ALPC_PORT_PortListEntry);
	start(&r, &c, 0);
	patch(&r, &c, a->ports[9].va + link, a->ports[4].va + link, c.ps);
	save(&c, "port_list_loop", &r);

	start(&r, &c, 0);
	field(&r, &c, a->waits[0].message, KH_F_KALPC_MESSAGE_PortQueue, garbage);
	save(&c, "port_queue_garbage", &r);

	start(&r, &c, 0);
	field(&r, &c, a->waits[0].message, KH_F_KALPC_MESSAGE_PortQueue, garbage);
	field(&r, &c, a->waits[0].message, KH_F_KALPC_MESSAGE_OwnerPort, a->explorer);
	field(&r, &c, a->waits[1].message, KH_F_KALPC_MESSAGE_PortQueue, a->waits[1].thread);
	save(&c, "message_ports_garbage", &r);

	start(&r, &c, 0);
	field(&r, &c, a->waits[1].message, KH_F_KALPC_MESSAGE_WaitingThread, a->server_thread);
	save(&c, "waiting_thread_other", &r);

	start(&r, &c, 0);
	field(&r, &c, a->waits[2].message, KH_F_KALPC_MESSAGE_ServerThread, a->explorer);
	save(&c, "server_thread_garbage", &r);

	start(&r, &c, 0);
	field(&r, &c, a->seed_thread, KH_F_ETHREAD_AlpcMessage, ole->va);
	save(&c, "alpc_message_is_port", &r);

	start(&r, &c, 0);
	field(&r, &c, a->seed_thread, KH_F_ETHREAD_AlpcMessage, garbage);
	save(&c, "alpc_message_garbage", &r);

	uint32_t entry = off(&c, KH_F_KALPC_MESSAGE_Entry);
	start(&r, &c, 0);
	patch(&r, &c, ole->messages[0] + entry, ole->messages[0] + entry, c.ps);
	save(&c, "main_queue_loop", &r);

	uint32_t wl = off(&c, KH_F_ETHREAD_AlpcWaitListEntry);
	start(&r, &c, 0);
	patch(&r, &c, lsm->receivers[0] + wl, lsm->receivers[0] + wl, c.ps);
	save(&c, "wait_queue_loop", &r);

	uint32_t cl = off(&c, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList);
	start(&r, &c, 0);
	patch(&r, &c, ole->connections[2] + cl, ole->connections[1] + cl, c.ps);
	save(&c, "connection_loop", &r);

	start(&r, &c, 0);
	patch(&r, &c, ole->connections[0] + cl, garbage, c.ps);
	save(&c, "connection_garbage", &r);

	/* the first client port's communication info is the port itself */
	start(&r, &c, 0);
	field(&r, &c, a->ports[5].va, KH_F_ALPC_PORT_CommunicationInfo, a->ports[5].va);
	field(&r, &c, a->ports[4].va, KH_F_ALPC_PORT_OwnerProcess, garbage);
	save(&c, "port_fields_garbage", &r);

	start(&r, &c, 0);
	field(&r, &c, ole->va, KH_F_ALPC_PORT_MainQueueLength, 0xFFFFFFFFu);
	field(&r, &c, ole->va, KH_F_ALPC_PORT_PendingQueueLength, 0x7FFFFFFFu);
	save(&c, "queue_length_huge", &r);

	/* the object header in front of explorer's port: every optional header,
	 * and a name of absurd length */
	uint32_t body = off(&c, KH_F_OBJECT_HEADER_Body);
	uint32_t creator = kh_layout_struct_size(l, KH_S_OBJECT_HEADER_CREATOR_INFO);
	uint32_t ninfo = kh_layout_struct_size(l, KH_S_OBJECT_HEADER_NAME_INFO);
	uint64_t hdr = ole->va - body;
	uint64_t name = hdr - creator - ninfo + off(&c, KH_F_OBJECT_HEADER_NAME_INFO_Name);
	start(&r, &c, 0);
	patch(&r, &c, name, 0xFFFE, 2);
	save(&c, "name_huge", &r);
	start(&r, &c, 0);
	patch(&r, &c, hdr + off(&c, KH_F_OBJECT_HEADER_InfoMask), 0xFF, 1);
	save(&c, "info_mask_all", &r);
	start(&r, &c, 0);
	patch(&r, &c, name + c.ps, garbage, c.ps);
	save(&c, "name_buffer_garbage", &r);

	/* everything at once */
	start(&r, &c, 0);
	patch(&r, &c, a->ports[9].va + link, a->ports[4].va + link, c.ps);
	field(&r, &c, a->waits[0].message, KH_F_KALPC_MESSAGE_PortQueue, garbage);
	patch(&r, &c, ole->connections[2] + cl, ole->connections[1] + cl, c.ps);
	patch(&r, &c, ole->messages[0] + entry, ole->messages[0] + entry, c.ps);
	save(&c, "all_damage", &r);

	fg_alpc_sample_free(c.a);
	return c.bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	int bad = 0;
	for (int i = 0; i < FG_ALPC_BASES; i++)
		bad |= one_base(argv[1], i);
	return bad;
}
