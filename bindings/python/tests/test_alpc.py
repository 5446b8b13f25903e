"""ALPC ports and waits through Python: the same answers as the C API, as
`khang alpc --json` prints them, on the dumps of tests/forge/mk_alpc_dumps
(the seed's logoff hang: svchost waits 1m:25.406 on explorer's port)."""

import os
import unittest

import khang

from support import env, needs, run_json


def _dumps():
    d = env("KHANG_ALPC_DUMPS")
    if not d or not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".dmp"))


def _addr(s):
    return int(s, 16) if s else 0


def _proc(ref):
    return None if ref is None else (ref.address, ref.name, ref.pid)


def _jproc(j):
    return None if j is None else (_addr(j["address"]), j["name"], j["pid"])


@unittest.skipUnless(_dumps(), "$KHANG_ALPC_DUMPS not set")
class AlpcTest(unittest.TestCase):
    def test_seed_case(self):
        path = [d for d in _dumps() if d.endswith("alpc_x64_19041.dmp")][0]
        with khang.open(path) as dump:
            waits = dump.alpc_waits()
            self.assertEqual(len(waits), 3)
            self.assertEqual(waits.skipped, 0)
            w = waits[0]
            self.assertEqual(w.process.name, "svchost.exe")
            self.assertEqual(w.server_process.name, "explorer.exe")
            self.assertEqual(w.wait_ms, 85406)
            self.assertIsNone(w.server_thread)
            self.assertTrue(w.message_ok)
            self.assertEqual(w.queue_port_kind, khang.AlpcKind.CONNECTION)
            self.assertEqual(w.connection_name, "OLE68D95701484F75BAC07FBACD02B9")
            self.assertEqual(w.thread.alpc_wait(), w)
            self.assertEqual(dump.alpc_wait(w.thread.address), w)
            # the server's side: explorer's ports, by reference, PID and name
            by_ref = w.server_process.alpc_ports()
            self.assertEqual(by_ref, dump.alpc_ports(0xc8c))
            self.assertEqual(by_ref, dump.alpc_ports("EXPLORER.EXE"))
            conn = [p for p in by_ref if p.kind == khang.AlpcKind.CONNECTION]
            self.assertEqual([p.name for p in conn], ["OLE68D95701484F75BAC07FBACD02B9"])
            self.assertEqual(len(conn[0].connections), 3)
            self.assertEqual(conn[0].queues["main"], (w.message, waits[1].message))
            # dllhost waits on svchost, whose thread took the request
            self.assertEqual(waits[2].server_thread.tid, 0x3d8)
            # a thread that waits for no reply
            self.assertIsNone(dump.alpc_wait(waits[2].server_thread))
            with self.assertRaises(khang.KhangError) as e:
                dump.alpc_ports("nosuch.exe")
            self.assertEqual(e.exception.code, khang.ENOTFOUND)

    @needs("KHANG_CLI")
    def test_ports_match_cli(self):
        for path in _dumps():
            for proc in (None, "explorer.exe"):
                with self.subTest(dump=path, process=proc), khang.open(path) as dump:
                    args = ["alpc", "--json", path] + (["-p", proc] if proc else [])
                    j = run_json(env("KHANG_CLI"), *args)
                    ports = dump.alpc_ports(proc)
                    self.assertEqual(len(ports), j["count"])
                    self.assertEqual(sum(p.skipped for p in ports) + ports.skipped, j["skipped"])
                    for p, jp in zip(ports, j["ports"]):
                        self.assertEqual(p.address, _addr(jp["address"]))
                        self.assertEqual(p.name, jp["name"])
                        self.assertEqual(khang.alpc.kind_name(p.kind), jp["kind"])
                        self.assertEqual(_proc(p.owner), _jproc(jp["owner"]))
                        self.assertEqual(p.communication_info, _addr(jp["communication_info"]))
                        self.assertEqual(p.connection_port, _addr(jp["connection_port"]))
                        self.assertEqual(p.connection_name, jp["connection_name"])
                        self.assertEqual(p.server_port, _addr(jp["server_port"]))
                        self.assertEqual(p.client_port, _addr(jp["client_port"]))
                        self.assertEqual(_proc(p.server_process), _jproc(jp["server_process"]))
                        self.assertEqual(p.queued, jp["queued"])
                        self.assertEqual(p.connection_queued, jp["connection_queued"])
                        for name, q in jp["queues"].items():
                            if q is None:
                                self.assertIsNone(p.queues[name])
                            else:
                                self.assertEqual(p.queue_lengths[name], q["length"])
                                self.assertEqual(p.queues[name], tuple(_addr(a) for a in q["entries"]))
                        self.assertEqual(p.closed, jp["closed"])
                        self.assertEqual(p.disconnected, jp["disconnected"])
                        self.assertEqual(len(p.connections), len(jp["connections"]))
                        for c, jc in zip(p.connections, jp["connections"]):
                            self.assertEqual(c.communication_info, _addr(jc["communication_info"]))
                            self.assertEqual(c.server_port, _addr(jc["server_port"]))
                            self.assertEqual(c.client_port, _addr(jc["client_port"]))
                            self.assertEqual(c.server_queued, jc["server_queued"])
                            self.assertEqual(c.client_queued, jc["client_queued"])
                            self.assertEqual(_proc(c.server_process), _jproc(jc["server_process"]))
                            self.assertEqual(_proc(c.client_process), _jproc(jc["client_process"]))

    @needs("KHANG_CLI")
    def test_waits_match_cli(self):
        for path in _dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                j = run_json(env("KHANG_CLI"), "alpc", "--json", path, "--waits")
                waits = dump.alpc_waits()
                self.assertEqual(len(waits), j["count"])
                self.assertEqual(waits.skipped, j["skipped"])
                flat = [(g, jw) for g in j["groups"] for jw in g["waits"]]
                for w, (g, jw) in zip(waits, flat):
                    self.assertEqual(_proc(w.server_process), _jproc(g["server_process"]))
                    self.assertEqual(w.connection_port, _addr(g["connection_port"]))
                    self.assertEqual(w.connection_name, g["connection_name"])
                    self.assertEqual((w.thread.address, w.thread.tid),
                                     (_addr(jw["thread"]["address"]), jw["thread"]["tid"]))
                    self.assertEqual(_proc(w.process), _jproc(jw["process"]))
                    self.assertEqual(w.wait_ms, jw["wait_ms"])
                    self.assertEqual(w.message, _addr(jw["message"]))
                    self.assertEqual(w.message_id, jw["message_id"])
                    self.assertEqual(w.message_ok, jw["message_ok"])
                    self.assertEqual(w.queue_port, _addr(jw["queue_port"]))
                    self.assertEqual(khang.alpc.kind_name(w.queue_port_kind), jw["queue_port_kind"])
                    self.assertEqual(w.owner_port, _addr(jw["owner_port"]))
                    st = jw["server_thread"]
                    self.assertEqual(w.server_thread_address, _addr(st["address"]) if st else 0)
                    if w.server_thread is not None:
                        self.assertEqual(w.server_thread.tid, st["tid"])
                    # the same from the thread
                    self.assertEqual(dump.alpc_wait(w.thread), w)

    def test_names(self):
        self.assertEqual([khang.alpc.kind_name(k) for k in khang.AlpcKind],
                         ["unknown", "connection", "server", "client"])
        self.assertEqual([khang.alpc.queue_name(q) for q in khang.AlpcQueue],
                         ["main", "pending", "large-message", "wait", "canceled", "direct"])

    def test_results_outlive_the_dump(self):
        path = _dumps()[0]
        with khang.open(path) as dump:
            ports = dump.alpc_ports()
            waits = dump.alpc_waits()
        self.assertTrue(all(p.address for p in ports))
        self.assertTrue(all(w.thread.address for w in waits))
        if waits:
            with self.assertRaises(khang.KhangError):
                waits[0].thread.alpc_wait()
