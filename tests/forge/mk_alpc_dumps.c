/* Writes the dumps of the khang CLI's alpc golden tests and the Python
 * binding's ALPC tests (the ALPC sample of fg_alpc.h):
 *   alpc_x64_19041.dmp   Windows 10 2004 x64 (bitmap kernel dump)
 *   alpc_x64_7601.dmp    Windows 7 SP1 x64 (bitmap full dump)
 *   alpc_x86pae_7601.dmp Windows 7 SP1 x86 PAE (no symbols: the port list is
 *                        found through the threads)
 *   alpc_damaged.dmp     19041 with a port list that loops, a message whose
 *                        PortQueue is garbage, a message whose page is not
 *                        in the dump in the middle of a queue, and a
 *                        connection list that loops
 * usage: mk_alpc_dumps DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fg_alpc.h"

static const kh_layout *guid_layout(uint32_t build)
{
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
			return l;
	}
	return NULL;
}

static int write_sample(const char *dir, const char *name, fg_alpc_sample *a, fg_format fmt)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = fg_sample_write_file(a->s, fmt, path);
	if (rc)
		fprintf(stderr, "%s: %s\n", path, fg_error(a->s->f));
	fg_alpc_sample_free(a);
	return rc != 0;
}

static void put_ptr(fg_alpc_sample *a, uint64_t va, uint64_t v)
{
	if (fg_write_ptr(a->s->f, fg_kernel_dtb(a->s->f), va, v) != 0)
		abort();
}

static fg_alpc_sample *damaged(const kh_layout *l)
{
	fg_alpc_sample *a = fg_alpc_sample_new(l);
	fg_forge *f = a->s->f;
	fg_kernel *k = a->s->k;
	const fg_alpc_port_rec *ole = &a->ports[a->ole];
	/* a message on a page of its own, waited on by a new svchost thread,
	 * not in the dump, in the middle of explorer's main queue */
	uint64_t t = fg_kernel_add_thread(k, a->svchost, 0x3e0);
	fg_kernel_alloc(k, 0x1000);
	uint64_t m = fg_alpc_message(f, k, ole->va, KHANG_ALPC_QUEUE_MAIN, 0, t, 0);
	fg_kernel_alloc(k, 0x1000);
	fg_alpc_message(f, k, ole->va, KHANG_ALPC_QUEUE_MAIN, 0, 0, 0);
	fg_alpc_wait_reply(f, k, t, m, 0x77, FG_SAMPLE_TICK_COUNT - 10);
	fg_map(f, fg_kernel_dtb(f), m & ~0xFFFull, 0x5000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT);
	/* the seed's message: PortQueue is garbage */
	fg_kernel_set(k, a->waits[0].message, KH_F_KALPC_MESSAGE_PortQueue, fg_kernel_base(k) + 0x123);
	/* explorer's connection list loops (third connection -> second) */
	uint32_t cl = kh_layout_offset(l, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList);
	put_ptr(a, ole->connections[2] + cl, ole->connections[1] + cl);
	/* the port list loops: port 20 -> port 10 */
	uint32_t link = kh_layout_offset(l, KH_F_ALPC_PORT_PortListEntry);
	put_ptr(a, a->ports[20].va + link, a->ports[10].va + link);
	return a;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const kh_layout *w10 = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	const kh_layout *w7 = guid_layout(7601);
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4);
	if (!w10 || !w7 || !n) {
		fprintf(stderr, "built-in layouts missing\n");
		return 1;
	}
	mkdir(argv[1], 0777); /* may exist */
	int bad = 0;
	bad |= write_sample(argv[1], "alpc_x64_19041.dmp", fg_alpc_sample_new(w10), FG_FMT_BITMAP_KERNEL);
	bad |= write_sample(argv[1], "alpc_x64_7601.dmp", fg_alpc_sample_new(w7), FG_FMT_BITMAP_FULL);
	bad |= write_sample(argv[1], "alpc_x86pae_7601.dmp", fg_alpc_sample_new(c[0].layout), FG_FMT_BITMAP_KERNEL);
	bad |= write_sample(argv[1], "alpc_damaged.dmp", damaged(w10), FG_FMT_BITMAP_KERNEL);
	return bad;
}
