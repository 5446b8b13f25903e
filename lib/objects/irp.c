/*
 * IRPs: the header, the stack locations that follow it, and the device and
 * driver objects a location names (khang/irp.h).
 *
 * An IRP is followed by StackCount IO_STACK_LOCATIONs; location i (1-based,
 * the numbering of IRP.CurrentLocation) is at
 *   irp + sizeof(IRP) + (i - 1) * sizeof(IO_STACK_LOCATION)
 * and Tail.Overlay.CurrentStackLocation points at location CurrentLocation.
 * The sizes come from the layout; partial layouts that lack them use the
 * sizes every Windows since XP has (IRP 0xD0/0x70, IO_STACK_LOCATION
 * 0x48/0x24 on x64/x86).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "khang/irp.h"
#include "kernel/kernel.h"
#include "util/util.h"

#define IO_TYPE_IRP 6
#define IO_TYPE_DEVICE 3
#define IO_TYPE_DRIVER 4
#define MAX_STACK_COUNT 127 /* StackCount is a CCHAR */

typedef struct irp_ctx {
	khang_source *src;
	const kh_layout *l;
	uint64_t irp;
	uint32_t irp_size, loc_size;
	int stack_count, current;
} irp_ctx;

static int64_t sfield(irp_ctx *c, uint64_t va, kh_field_id id, int64_t dflt)
{
	uint64_t v;
	if (!kh_layout_has(c->l, id) || kh_read_field(c->src, 0, va, c->l, id, &v) < 0)
		return dflt;
	uint32_t bytes = kh_layout_field(c->l, id)->size;
	if (bytes && bytes < 8 && (v >> (8 * bytes - 1)) & 1)
		v |= ~0ull << (8 * bytes); /* sign-extend CCHAR / NTSTATUS */
	return (int64_t)v;
}

static uint64_t pfield(irp_ctx *c, uint64_t va, kh_field_id id)
{
	uint64_t v;
	if (!kh_layout_has(c->l, id) || kh_read_field(c->src, 0, va, c->l, id, &v) < 0)
		return 0;
	return v;
}

/* a BOOLEAN: 1, 0, or -1 when unknown */
static int flag(irp_ctx *c, uint64_t va, kh_field_id id)
{
	uint64_t v;
	if (!kh_layout_has(c->l, id) || kh_read_field(c->src, 0, va, c->l, id, &v) < 0)
		return -1;
	return v != 0;
}

static int irp_open(irp_ctx *c, khang_source *src, uint64_t address, const char *fn)
{
	kh_kernel *k;
	memset(c, 0, sizeof(*c));
	int rc = kh_kernel_get(src, &k);
	if (rc < 0)
		return rc;
	if (!k->layout || !kh_layout_has(k->layout, KH_F_IRP_Type) || !kh_layout_has(k->layout, KH_F_IRP_StackCount) ||
	    !kh_layout_has(k->layout, KH_F_IRP_CurrentLocation) ||
	    !kh_layout_has(k->layout, KH_F_IO_STACK_LOCATION_DeviceObject))
		return kh_error(KHANG_EUNSUPPORTED, "%s: no kernel layout describing IRPs", fn);
	c->src = src;
	c->l = k->layout;
	c->irp = address;
	bool x86 = kh_ptr_size(src) == 4;
	c->irp_size = kh_layout_struct_size(c->l, KH_S_IRP);
	c->loc_size = kh_layout_struct_size(c->l, KH_S_IO_STACK_LOCATION);
	if (!c->irp_size)
		c->irp_size = x86 ? 0x70 : 0xD0;
	if (!c->loc_size)
		c->loc_size = x86 ? 0x24 : 0x48;
	uint64_t type, count;
	if ((rc = kh_read_field(src, 0, address, c->l, KH_F_IRP_Type, &type)) < 0 ||
	    (rc = kh_read_field(src, 0, address, c->l, KH_F_IRP_StackCount, &count)) < 0)
		return kh_error(rc, "%s: IRP 0x%llx %s", fn, (unsigned long long)address,
		                rc == KHANG_ENOTPRESENT ? "is not in the dump" : "cannot be read");
	if (type != IO_TYPE_IRP)
		return kh_error(KHANG_ECORRUPT, "%s: 0x%llx is not an IRP (type %llu, an IRP has %d)", fn,
		                (unsigned long long)address, (unsigned long long)type, IO_TYPE_IRP);
	c->stack_count = (int)sfield(c, address, KH_F_IRP_StackCount, 0);
	if (c->stack_count < 1 || c->stack_count > MAX_STACK_COUNT)
		return kh_error(KHANG_ECORRUPT, "%s: IRP 0x%llx has %d stack locations", fn, (unsigned long long)address,
		                c->stack_count);
	/* the packet holds the header and its locations (IoSizeOfIrp) */
	uint64_t span = (uint64_t)c->irp_size + (uint64_t)c->stack_count * c->loc_size;
	int64_t size = sfield(c, address, KH_F_IRP_Size, -1);
	if (size >= 0 && (uint64_t)(uint16_t)size < span)
		return kh_error(KHANG_ECORRUPT, "%s: IRP 0x%llx is %u bytes, too small for %d stack locations", fn,
		                (unsigned long long)address, (unsigned)(uint16_t)size, c->stack_count);
	/* the locations must lie inside the address space: no wrap */
	if (address > UINT64_MAX - span || (x86 && address + span > 0x100000000ull))
		return kh_error(KHANG_ECORRUPT, "%s: IRP 0x%llx wraps the address space", fn, (unsigned long long)address);
	c->current = (int)sfield(c, address, KH_F_IRP_CurrentLocation, 0);
	return 0;
}

static uint64_t location_va(const irp_ctx *c, int index)
{
	return c->irp + c->irp_size + (uint64_t)(index - 1) * c->loc_size;
}

/* The driver of a device: DRIVER_OBJECT, its name and the module holding
 * its image. Objects whose type is wrong are ignored (left empty). */
static void device_driver(irp_ctx *c, uint64_t device, uint64_t *driver, char *name, size_t name_len, char *module,
                          size_t module_len)
{
	*driver = 0;
	name[0] = module[0] = '\0';
	if (!device || sfield(c, device, KH_F_DEVICE_OBJECT_Type, -1) != IO_TYPE_DEVICE)
		return;
	uint64_t drv = pfield(c, device, KH_F_DEVICE_OBJECT_DriverObject);
	if (!drv || sfield(c, drv, KH_F_DRIVER_OBJECT_Type, -1) != IO_TYPE_DRIVER)
		return;
	*driver = drv;
	if (kh_layout_has(c->l, KH_F_DRIVER_OBJECT_DriverName))
		kh_read_unicode_string(c->src, 0, kh_field_addr(c->l, drv, KH_F_DRIVER_OBJECT_DriverName), name, name_len);
	uint64_t start = pfield(c, drv, KH_F_DRIVER_OBJECT_DriverStart);
	const khang_module *m;
	if (start && khang_source_module_at(&m, c->src, start) == 0)
		kh_copy_str(module, module_len, khang_module_name(m));
}

static bool is_power_request(uint8_t major, uint8_t minor)
{
	return major == 0x16 && (minor == 2 || minor == 3); /* IRP_MJ_POWER: SET_POWER, QUERY_POWER */
}

static void read_location(irp_ctx *c, int index, khang_irp_location *d)
{
	uint64_t va = location_va(c, index);
	memset(d, 0, sizeof(*d));
	d->address = va;
	d->index = (uint32_t)index;
	d->current = index == c->current;
	d->major = (uint8_t)pfield(c, va, KH_F_IO_STACK_LOCATION_MajorFunction);
	d->minor = (uint8_t)pfield(c, va, KH_F_IO_STACK_LOCATION_MinorFunction);
	d->flags = (uint8_t)pfield(c, va, KH_F_IO_STACK_LOCATION_Flags);
	d->control = (uint8_t)pfield(c, va, KH_F_IO_STACK_LOCATION_Control);
	d->device = pfield(c, va, KH_F_IO_STACK_LOCATION_DeviceObject);
	d->file_object = pfield(c, va, KH_F_IO_STACK_LOCATION_FileObject);
	d->completion_routine = pfield(c, va, KH_F_IO_STACK_LOCATION_CompletionRoutine);
	d->context = pfield(c, va, KH_F_IO_STACK_LOCATION_Context);
	d->power_type = d->power_state = d->power_action = -1;
	if (is_power_request(d->major, d->minor)) {
		d->power_type = (int)sfield(c, va, KH_F_IO_STACK_LOCATION_PowerType, -1);
		d->power_state = (int)sfield(c, va, KH_F_IO_STACK_LOCATION_PowerState, -1);
		d->power_action = (int)sfield(c, va, KH_F_IO_STACK_LOCATION_PowerAction, -1);
	}
	device_driver(c, d->device, &d->driver, d->driver_name, sizeof(d->driver_name), d->module, sizeof(d->module));
}

#define IRP_MIN_SIZE (offsetof(khang_irp, current_location) + sizeof(int))
#define LOC_MIN_SIZE (offsetof(khang_irp_location, device) + sizeof(uint64_t))

KHANG_API int khang_irp_read(khang_irp *out, khang_source *src, uint64_t address)
{
	if (!out || out->size < IRP_MIN_SIZE || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_irp_read: NULL or invalid argument (set out->size)");
	irp_ctx c;
	int rc = irp_open(&c, src, address, "khang_irp_read");
	if (rc < 0)
		return rc;
	khang_irp d;
	memset(&d, 0, sizeof(d));
	d.address = address;
	d.thread = pfield(&c, address, KH_F_IRP_Thread);
	d.file_object = pfield(&c, address, KH_F_IRP_OriginalFileObject);
	d.flags = (uint32_t)pfield(&c, address, KH_F_IRP_Flags);
	d.status = (int32_t)sfield(&c, address, KH_F_IRP_Status, 0);
	d.stack_count = c.stack_count;
	d.current_location = c.current;
	d.cancel = flag(&c, address, KH_F_IRP_Cancel);
	d.pending_returned = flag(&c, address, KH_F_IRP_PendingReturned);
	if (c.current >= 1 && c.current <= c.stack_count) {
		khang_irp_location loc;
		read_location(&c, c.current, &loc);
		uint64_t csl = pfield(&c, address, KH_F_IRP_CurrentStackLocation);
		if (csl && csl != loc.address)
			kh_source_warn(src, "IRP 0x%llx: CurrentStackLocation 0x%llx is not location %d (0x%llx)",
			               (unsigned long long)address, (unsigned long long)csl, c.current,
			               (unsigned long long)loc.address);
		d.major = loc.major;
		d.minor = loc.minor;
		d.device = loc.device;
		d.driver = loc.driver;
		memcpy(d.driver_name, loc.driver_name, sizeof(d.driver_name));
		memcpy(d.module, loc.module, sizeof(d.module));
	}
	size_t n = KH_MIN(out->size, sizeof(d));
	d.size = n;
	memcpy(out, &d, n);
	return 0;
}

KHANG_API int khang_irp_location_read(khang_irp_location *out, khang_source *src, uint64_t irp, uint32_t index)
{
	if (!out || out->size < LOC_MIN_SIZE || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_irp_location_read: NULL or invalid argument (set out->size)");
	irp_ctx c;
	int rc = irp_open(&c, src, irp, "khang_irp_location_read");
	if (rc < 0)
		return rc;
	if (index < 1 || index > (uint32_t)c.stack_count)
		return kh_error(KHANG_ENOTFOUND, "IRP 0x%llx has no stack location %u (it has %d)", (unsigned long long)irp,
		                index, c.stack_count);
	khang_irp_location d;
	read_location(&c, (int)index, &d);
	size_t n = KH_MIN(out->size, sizeof(d));
	d.size = n;
	memcpy(out, &d, n);
	return 0;
}

/* ---- names (wdm.h facts) ------------------------------------------------------------ */

KHANG_API const char *khang_irp_major_name(unsigned major)
{
	static const char *const names[] = {
		"IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
		"IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
		"IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
		"IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
		"IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
		"IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
		"IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP",
	};
	return major < KH_ARRAY_SIZE(names) ? names[major] : "IRP_MJ_?";
}

KHANG_API const char *khang_irp_minor_name(unsigned major, unsigned minor)
{
	static const char *const power[] = { "IRP_MN_WAIT_WAKE", "IRP_MN_POWER_SEQUENCE", "IRP_MN_SET_POWER",
		                             "IRP_MN_QUERY_POWER" };
	static const char *const pnp[] = {
		"IRP_MN_START_DEVICE", "IRP_MN_QUERY_REMOVE_DEVICE", "IRP_MN_REMOVE_DEVICE",
		"IRP_MN_CANCEL_REMOVE_DEVICE", "IRP_MN_STOP_DEVICE", "IRP_MN_QUERY_STOP_DEVICE",
		"IRP_MN_CANCEL_STOP_DEVICE", "IRP_MN_QUERY_DEVICE_RELATIONS", "IRP_MN_QUERY_INTERFACE",
		"IRP_MN_QUERY_CAPABILITIES", "IRP_MN_QUERY_RESOURCES", "IRP_MN_QUERY_RESOURCE_REQUIREMENTS",
		"IRP_MN_QUERY_DEVICE_TEXT", "IRP_MN_FILTER_RESOURCE_REQUIREMENTS", "", "IRP_MN_READ_CONFIG",
		"IRP_MN_WRITE_CONFIG", "IRP_MN_EJECT", "IRP_MN_SET_LOCK", "IRP_MN_QUERY_ID",
		"IRP_MN_QUERY_PNP_DEVICE_STATE", "IRP_MN_QUERY_BUS_INFORMATION", "IRP_MN_DEVICE_USAGE_NOTIFICATION",
		"IRP_MN_SURPRISE_REMOVAL", "IRP_MN_QUERY_LEGACY_BUS_INFORMATION", "IRP_MN_DEVICE_ENUMERATED",
	};
	if (major == 0x16)
		return minor < KH_ARRAY_SIZE(power) ? power[minor] : "";
	if (major == 0x1b)
		return minor < KH_ARRAY_SIZE(pnp) ? pnp[minor] : "";
	return "";
}

KHANG_API const char *khang_power_state_name(int type, int state)
{
	static const char *const sys[] = { "unspecified",     "S0 (working)",   "S1 (sleeping)", "S2 (sleeping)",
		                           "S3 (sleeping)",   "S4 (hibernate)", "S5 (shutdown)" };
	static const char *const dev[] = { "unspecified", "D0", "D1", "D2", "D3" };
	if (type == 0 && state >= 0 && (size_t)state < KH_ARRAY_SIZE(sys))
		return sys[state];
	if (type == 1 && state >= 0 && (size_t)state < KH_ARRAY_SIZE(dev))
		return dev[state];
	return "unspecified";
}
