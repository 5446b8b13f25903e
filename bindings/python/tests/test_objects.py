"""Processors, processes and threads through Python: the same answers as the
C API, seen through `khang cpus|ps|threads|ready|thread --json`."""

import os
import unittest

import khang

from support import env, kernel_dumps, needs, run_json


def hexs(v):
    return "0x%x" % v


def _sample():
    """The sample dump (an ALPC chain: svchost.exe -> explorer.exe ->
    TmXPFlt.sys), or None."""
    for d in kernel_dumps():
        if d.endswith("khang-sample.dmp"):
            return d
    return None


@needs("KHANG_CLI")
class TestAgainstCli(unittest.TestCase):
    def cli(self, *args):
        return run_json(env("KHANG_CLI"), *args, "--json")

    def test_processes(self):
        for path in kernel_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                c = self.cli("ps", path)
                it = dump.processes()
                procs = list(it)
                self.assertEqual(it.skipped, c["skipped"])
                self.assertEqual(len(procs), c["count"])
                for p, cp in zip(procs, c["processes"]):
                    self.assertEqual(
                        (p.name, hexs(p.address), p.pid, p.parent_pid, p.session_id, hexs(p.peb), hexs(p.dtb),
                         p.create_time, p.thread_count, p.handle_count, p.is_exiting, p.is_gui, p.image_path),
                        (cp["name"], cp["address"], cp["pid"], cp["parent_pid"], cp["session"], cp["peb"],
                         cp["dtb"], cp["create_filetime"], cp["threads"], cp["handles"], cp["exiting"],
                         cp["gui"], cp["image_path"]))
                    if p.pid is not None:
                        self.assertEqual(dump.process_by_pid(p.pid), p)
                    self.assertEqual(dump.process_by_address(p.address).name, p.name)

    def test_threads(self):
        for path in kernel_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                c = self.cli("threads", path)
                it = dump.threads()
                threads = list(it)
                self.assertEqual(it.skipped, c["skipped"])
                self.assertEqual(len(threads), c["count"])
                for t, ct in zip(threads, c["threads"]):
                    self.assertEqual(
                        (t.process_name, t.pid, hexs(t.address), t.tid, t.state_name, t.wait_ms,
                         t.wait_reason_name, t.is_gui),
                        (ct["process"], ct["pid"], ct["thread"], ct["tid"], ct["state"], ct["wait_ms"],
                         ct["wait_reason"], ct["gui"]))
                # Process by process gives the same threads.
                per_process = []
                for p in dump.processes():
                    per_process += list(p.threads())
                self.assertEqual(per_process, threads)

    def test_processors(self):
        for path in kernel_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                c = self.cli("cpus", path)
                it = dump.processors()
                cpus = list(it)
                self.assertEqual(it.skipped, c["skipped"])
                self.assertEqual(len(cpus), c["count"])
                self.assertEqual(sum(1 for p in cpus if p.is_idle), c["idle"])
                for p, cp in zip(cpus, c["processors"]):
                    self.assertEqual(
                        (p.index, hexs(p.kpcr), hexs(p.kprcb), p.irql, p.mhz, p.vendor, p.family, p.model,
                         p.stepping, p.is_idle),
                        (cp["index"], cp["kpcr"], cp["kprcb"], cp["irql"], cp["mhz"], cp["vendor"], cp["family"],
                         cp["model"], cp["stepping"], cp["idle"]))
                    for slot in ("current_thread", "next_thread", "idle_thread"):
                        va = getattr(p, slot + "_address")
                        self.assertEqual(hexs(va) if va else None, cp[slot], slot)
                    cur = p.current_thread()
                    if cp["running"] is None:
                        continue
                    self.assertEqual((cur.process_name, cur.pid, cur.tid, cur.state_name, cur.wait_ms),
                                     (cp["running"]["process"], cp["running"]["pid"], cp["running"]["tid"],
                                      cp["running"]["state"], cp["running"]["wait_ms"]))
                    self.assertEqual(dump.processor(p.index), p)

    def test_ready(self):
        for path in kernel_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                c = self.cli("ready", path)
                ready = dump.ready_threads()
                self.assertEqual(ready.skipped, c["skipped"])
                self.assertEqual(
                    [(hexs(r.thread_address), r.priority, r.processor, r.shared_queue, hexs(r.queue), r.ready_ms)
                     for r in ready],
                    [(cr["thread"], cr["priority"], cr["processor"], cr["shared_queue"], cr["queue"],
                      cr["ready_ms"]) for cr in c["ready"]])

    def test_thread_details(self):
        """One thread's fields and wait objects, as `khang thread` shows them."""
        path = _sample()
        if not path:
            self.skipTest("the sample dump is not built")
        names = {0: "WaitAll", 1: "WaitAny", 2: "WaitNotification", 3: "WaitDequeue", 4: "WaitDpc"}
        with khang.open(path) as dump:
            for t in dump.threads():
                with self.subTest(thread=hexs(t.address)):
                    ct = self.cli("thread", path, hexs(t.address))["thread"]
                    self.assertEqual(
                        (t.pid, t.tid, hexs(t.process_address), t.process_name, hexs(t.teb),
                         hexs(t.win32_thread), t.is_gui, int(t.state), t.wait_reason, t.alertable, t.wait_irql,
                         t.wait_tick, t.priority, t.base_priority, t.processor, t.ideal_processor,
                         t.suspend_count, t.is_system, t.is_terminated, hexs(t.stack_init), hexs(t.stack_base),
                         hexs(t.stack_limit), hexs(t.kernel_stack), [hexs(i) for i in t.irps]),
                        (ct["pid"], ct["tid"], ct["process"], ct["process_name"], ct["teb"], ct["win32_thread"],
                         ct["gui"], ct["state_value"], ct["wait_reason_value"], ct["alertable"], ct["wait_irql"],
                         ct["wait_tick"], ct["priority"], ct["base_priority"], ct["processor"],
                         ct["ideal_processor"], ct["suspend_count"], ct["system"], ct["terminated"],
                         ct["stack_init"], ct["stack_base"], ct["stack_limit"], ct["kernel_stack"], ct["irps"]))
                    waits = t.wait_objects()
                    self.assertEqual(waits.skipped, ct["wait_blocks_skipped"])
                    self.assertEqual(
                        [(hexs(w.object), w.type_name, -1 if w.raw_type is None else w.raw_type,
                          names.get(w.wait_type, ""), w.block_state_name) for w in waits],
                        [(cw["object"], cw["type"], cw["raw_type"], cw["wait_type"], cw["block_state"])
                         for cw in ct["wait_objects"]])
                    self.assertEqual(dump.thread_by_tid(t.tid), t)


class TestSample(unittest.TestCase):
    def setUp(self):
        self.path = _sample()
        if not self.path:
            self.skipTest("the sample dump is not built")

    def test_chain_objects(self):
        """The sample's ALPC chain through the object API."""
        with khang.open(self.path) as dump:
            svchost = dump.thread_by_tid(5012)
            self.assertEqual(svchost.process_name, "svchost.exe")
            self.assertEqual(svchost.state, khang.ThreadState.WAITING)
            self.assertEqual(svchost.wait_reason, khang.WaitReason.WR_LPC_REPLY)
            self.assertEqual(svchost.wait_time, "1m:25.000")
            w = svchost.alpc_wait()
            self.assertIsNotNone(w)
            self.assertEqual(w.server_process.name, "explorer.exe")
            explorer = dump.process_by_pid(w.server_process.pid)
            self.assertEqual(explorer.name, "explorer.exe")
            self.assertEqual(svchost.process().pid, 1044)
            main = explorer.main_thread()
            self.assertEqual(main.tid, 4236)
            self.assertTrue(main.is_gui)
            st = main.stack()
            self.assertEqual(st, dump.thread_stack(main.address))
            self.assertIn("TmXPFlt!TmXPFltWaitForScan+0xe3", [f.symbol for f in st])
            objs = main.wait_objects()
            self.assertEqual(len(objs), 1)
            self.assertEqual(objs[0].type, khang.DispatcherType.EVENT_NOTIFICATION)
            self.assertEqual([p.address for p in explorer.alpc_ports()],
                             [p.address for p in dump.alpc_ports(explorer.pid)])
            self.assertEqual(len(list(dump.threads(explorer))), explorer.thread_count)
            self.assertEqual(list(dump.threads(explorer.pid)), list(explorer.threads()))
            self.assertEqual(dump.processor_count(), 4)
            self.assertIsNone(dump.process_by_pid(999999))
            self.assertIsNone(dump.thread_by_tid(999999))
            self.assertIsNone(dump.processor(1000))
        # Snapshots stay readable after close; asking the dump for more fails.
        self.assertEqual(main.tid, 4236)
        self.assertEqual(explorer.name, "explorer.exe")
        with self.assertRaises(khang.KhangError) as cm:
            main.stack()
        self.assertEqual(cm.exception.code, khang.EINVAL)
        with self.assertRaises(khang.KhangError):
            explorer.threads()

    def test_iterator_closed_with_dump(self):
        dump = khang.open(self.path)
        it = dump.threads()
        first = next(it)
        dump.close()
        self.assertEqual(list(it), [])
        self.assertTrue(first.tid)

    def test_format_duration(self):
        self.assertEqual(khang.format_duration(None), khang.format_duration(-1))
        self.assertEqual(khang.format_duration(85000), "1m:25.000")


if __name__ == "__main__":
    unittest.main()


def _objects_dumps():
    """The CLI's object dumps that carry an IRP with stack locations."""
    d = env("KHANG_OBJECTS_DUMPS")
    return [os.path.join(d, f) for f in ("x64_19041.dmp", "x86pae_7601.dmp")] if d else []


@needs("KHANG_CLI")
@needs("KHANG_OBJECTS_DUMPS")
class TestIrpsAndDpc(unittest.TestCase):
    def cli(self, *args):
        return run_json(env("KHANG_CLI"), *args, "--json")

    def test_irps(self):
        """Every IRP of every thread, as `khang irp` shows it; the one with
        stack locations is pending in disk.sys."""
        seen = 0
        for path in _objects_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                for t in dump.threads():
                    for va in t.irps:
                        try:
                            irp = dump.irp(va)
                        except khang.KhangError as e:
                            # the sample's bare IRPs (no stack locations)
                            self.assertEqual(e.code, khang.ECORRUPT)
                            continue
                        seen += 1
                        c = self.cli("irp", path, hexs(va))
                        self.assertEqual(
                            (hexs(irp.address), hexs(irp.thread), irp.flags, hexs(irp.status), irp.stack_count,
                             irp.current_location, irp.cancel, irp.pending_returned, irp.driver_name, irp.module),
                            (c["address"], c["thread"], c["flags"], c["status"], c["stack_count"],
                             c["current_location"], c["cancel"], c["pending_returned"], c["driver_name"],
                             c["module"]))
                        self.assertEqual(
                            [(l.index, l.current, hexs(l.address), l.major_name, l.minor_name, hexs(l.device),
                              hexs(l.driver), l.driver_name, l.module, hexs(l.completion_routine))
                             for l in irp.locations],
                            [(cl["index"], cl["current"], cl["address"], cl["major_name"], cl["minor_name"],
                              cl["device"], cl["driver"], cl["driver_name"], cl["module"], cl["completion_routine"])
                             for cl in c["locations"]])
                        self.assertEqual((irp.major_name, irp.module, irp.status), ("IRP_MJ_READ", "disk.sys", 0x103))
                        self.assertEqual(t.address, irp.thread)
                with self.assertRaises(khang.KhangError) as e:
                    dump.irp(next(iter(dump.processes())).address)
                self.assertEqual(e.exception.code, khang.ECORRUPT)
        self.assertEqual(seen, 2)
        self.assertEqual(khang.irp.power_state_name(0, 4), "S3 (sleeping)")
        self.assertEqual(khang.irp.minor_name(0x16, 2), "IRP_MN_SET_POWER")

    def test_processor_dpc(self):
        """Each processor's DPC state, as `khang prcb` shows it."""
        for path in _objects_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                for p in dump.processors():
                    c = self.cli("prcb", path, str(p.index))["dpc"]
                    d = p.dpc
                    self.assertEqual(
                        (hexs(d.routine) if d.routine else None, d.routine_active, d.time_count, d.time_limit,
                         d.watchdog_period, d.watchdog_count),
                        (c["routine"], None if c["routine_active"] is None else bool(c["routine_active"]),
                         c["time_count"], c["time_limit"], c["watchdog_period"], c["watchdog_count"]))
