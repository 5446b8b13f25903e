/**
 * @file khang/irp.h
 * @brief I/O request packets: an IRP, its stack locations, and the device
 *        and driver each location was sent to (like WinDbg's !irp).
 *
 * An IRP is read from its address, e.g. a thread's IRP list
 * (khang_thread_irps()) or the blocked power IRP that
 * DRIVER_POWER_STATE_FAILURE (bugcheck 0x9F, parameter 1 = 3) names in its
 * fourth parameter. Every read is bounded: the stack count is checked
 * against the IRP's own size limits, device and driver objects must carry
 * their object type, and names are read with a length limit.
 *
 * Nothing here allocates; results are copied into caller-owned sized
 * structures (set @c size first, or use the _INIT macros).
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_IRP_H
#define KHANG_IRP_H

#include "common.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief An IRP and the driver that holds it now (KHANG_IRP_INIT). */
typedef struct khang_irp {
	size_t size;              /**< sizeof(khang_irp) */
	uint64_t address;         /**< the IRP */
	uint64_t thread;          /**< the thread that issued it (Tail.Overlay.Thread); 0 none (e.g. power IRPs) */
	uint64_t file_object;     /**< Tail.Overlay.OriginalFileObject; 0 none */
	uint32_t flags;           /**< IRP.Flags */
	int32_t status;           /**< IoStatus.Status (0x103 STATUS_PENDING while pending) */
	int stack_count;          /**< number of stack locations (IRP.StackCount) */
	int current_location;     /**< IRP.CurrentLocation: 1..stack_count is the location being processed,
	                               stack_count + 1 not yet sent, 0 or less completed past the last */
	int cancel;               /**< IRP.Cancel: 1 cancelled, 0 not, -1 unknown */
	int pending_returned;     /**< IRP.PendingReturned: 1, 0, -1 unknown */
	/* The current stack location, when current_location is in 1..stack_count
	 * (else zeros and empty strings): */
	uint8_t major;            /**< IRP_MJ_* (see khang_irp_major_name()) */
	uint8_t minor;            /**< IRP_MN_* (see khang_irp_minor_name()) */
	uint64_t device;          /**< the DEVICE_OBJECT the IRP was sent to */
	uint64_t driver;          /**< that device's DRIVER_OBJECT; 0 when unreadable */
	char driver_name[64];     /**< DRIVER_OBJECT.DriverName, "\\Driver\\ACPI" (UTF-8); "" unknown */
	char module[64];          /**< the loaded module holding the driver's image (DriverStart), "acpi.sys"; "" unknown */
} khang_irp;

/** Static initialiser for @ref khang_irp. */
#define KHANG_IRP_INIT KHANG_SIZED_INIT(khang_irp)

/** @brief One I/O stack location of an IRP (KHANG_IRP_LOCATION_INIT). */
typedef struct khang_irp_location {
	size_t size;                 /**< sizeof(khang_irp_location) */
	uint64_t address;            /**< the IO_STACK_LOCATION */
	uint32_t index;              /**< 1-based, the numbering of IRP.CurrentLocation */
	int current;                 /**< 1 when this is the IRP's current location */
	uint8_t major;               /**< IRP_MJ_* */
	uint8_t minor;               /**< IRP_MN_* */
	uint8_t flags;               /**< IO_STACK_LOCATION.Flags */
	uint8_t control;             /**< IO_STACK_LOCATION.Control (SL_PENDING_RETURNED = 0x01, SL_INVOKE_ON_* ...) */
	uint64_t device;             /**< DeviceObject; 0 for a location not (yet) used */
	uint64_t driver;             /**< the device's DRIVER_OBJECT; 0 unknown */
	char driver_name[64];        /**< DRIVER_OBJECT.DriverName (UTF-8); "" unknown */
	char module[64];             /**< the module holding the driver's image; "" unknown */
	uint64_t file_object;        /**< FileObject */
	uint64_t completion_routine; /**< CompletionRoutine; 0 none */
	uint64_t context;            /**< Context of the completion routine */
	/** IRP_MJ_POWER with IRP_MN_SET_POWER or IRP_MN_QUERY_POWER:
	 *  Parameters.Power.Type (0 system, 1 device power state); else -1 */
	int power_type;
	/** the requested state (SYSTEM_POWER_STATE or DEVICE_POWER_STATE, see
	 *  khang_power_state_name()); -1 when not a power request */
	int power_state;
	/** Parameters.Power.ShutdownType (POWER_ACTION); -1 when not a power request */
	int power_action;
} khang_irp_location;

/** Static initialiser for @ref khang_irp_location. */
#define KHANG_IRP_LOCATION_INIT KHANG_SIZED_INIT(khang_irp_location)

/**
 * @brief Read an IRP and the driver it is pending in.
 * @param[out] out filled up to out->size bytes (set it first)
 * @param src the source (a kernel layout is needed)
 * @param address the IRP's virtual address
 * @return 0 (the device and driver fields are empty when those objects are
 *         not in the dump); KHANG_ENOTPRESENT when the IRP is not in the
 *         dump; KHANG_ERANGE for an address where the IRP would wrap the
 *         address space; KHANG_ECORRUPT when the memory there is not an IRP
 *         (type, size, stack count); KHANG_EUNSUPPORTED without a layout
 *         describing IRPs; KHANG_EINVAL.
 */
KHANG_API int khang_irp_read(khang_irp *out, khang_source *src, uint64_t address);

/**
 * @brief One stack location of an IRP.
 * @param[out] out filled up to out->size bytes (set it first)
 * @param src the source
 * @param irp the IRP's address (as given to khang_irp_read())
 * @param index 1..stack_count
 * @return 0; KHANG_ENOTFOUND when @p index is outside 1..stack_count; the
 *         errors of khang_irp_read().
 */
KHANG_API int khang_irp_location_read(khang_irp_location *out, khang_source *src, uint64_t irp, uint32_t index);

/**
 * @brief The name of a major function code.
 * @param major IRP_MJ_* code
 * @return "IRP_MJ_POWER" etc. (static); "IRP_MJ_?" for an unknown code.
 */
KHANG_API const char *khang_irp_major_name(unsigned major);

/**
 * @brief The name of a minor function code of IRP_MJ_POWER or IRP_MJ_PNP.
 * @param major IRP_MJ_* code
 * @param minor IRP_MN_* code
 * @return "IRP_MN_SET_POWER" etc. (static); "" for other major codes or an
 *         unknown minor.
 */
KHANG_API const char *khang_irp_minor_name(unsigned major, unsigned minor);

/**
 * @brief The name of a power state.
 * @param type 0 system power state, 1 device power state (as
 *        khang_irp_location.power_type)
 * @param state the state
 * @return "S0 (working)", "S3 (sleeping)", "S4 (hibernate)", "S5 (shutdown)",
 *         "D0" ... "D3" (static); "unspecified" for 0 or an unknown value.
 */
KHANG_API const char *khang_power_state_name(int type, int state);

KHANG_END_DECL

#endif /* KHANG_IRP_H */
