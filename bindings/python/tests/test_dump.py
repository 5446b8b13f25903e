"""The bindings give the same answers as the C API and the khang tool."""

import datetime
import threading
import unittest

import khang

from support import dumps, env, kernel_dumps, needs, run_json


def hexs(v):
    return "0x%x" % v


class TestAgainstC(unittest.TestCase):
    """Each fixture dump read through Python and through C (c_reference)."""

    def addresses(self, dump):
        """Addresses worth asking about: module bases, offsets into each
        module, the kernel's globals, and addresses in no module."""
        vas = [0x1234, 0xfffff80000000000, 0xffffffffffffffff]
        vas += [p for p in dump.info().bugcheck_params if p]   # e.g. a CONTEXT record
        try:
            k = dump.kernel_info()
        except khang.KhangError:
            return vas
        vas += [k.base, k.base + 0x1000, k.base + 0x12345, k.kdbg_address,
                k.ps_loaded_module_list, k.ki_processor_block]
        for m in dump.modules():
            vas += [m.base, m.base + 0x10, m.base + 0x1bce3 % max(m.size, 1), m.end]
        return vas

    @needs("KHANG_C_REFERENCE")
    def test_same_as_c(self):
        for path in dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                vas = self.addresses(dump)
                c = run_json(env("KHANG_C_REFERENCE"), "dump", path, *[str(v) for v in vas])
                info = dump.info()
                for key in ("build", "processors", "bugcheck_code", "dtb", "file_size",
                            "pages_indexed", "system_time", "comment"):
                    self.assertEqual(getattr(info, key), c["info"][key], key)
                self.assertEqual(int(info.arch), c["info"]["arch"])
                self.assertEqual(int(info.dump_type), c["info"]["dump_type"])
                try:
                    k = dump.kernel_info()
                except khang.KhangError as e:
                    self.assertEqual(e.code, c["kernel"]["error"])
                else:
                    self.assertEqual(k.base, c["kernel"]["base"])
                    self.assertEqual(k.pdb_id, c["kernel"]["pdb_id"])
                    self.assertEqual(int(k.check), c["kernel"]["check"])
                    self.assertEqual(k.tick_count, c["kernel"]["tick_count"])
                    self.assertEqual(k.layout.description if k.layout else "", c["kernel"]["layout"])
                    self.assertEqual(k.layout.symbol_count if k.layout else 0, c["kernel"]["symbols"])
                try:
                    mods = [(m.name, m.base, m.size) for m in dump.modules()]
                except khang.KhangError:
                    mods = []
                self.assertEqual(mods, [(m["name"], m["base"], m["size"]) for m in c["modules"]])
                for va, ca in zip(vas, c["addresses"]):
                    self.assertEqual(ca["va"], va)
                    self.assertEqual(dump.symbolize(va), ca["symbol"], hex(va))
                    try:
                        pa, trc = dump.translate(va), 0
                    except khang.KhangError as e:
                        pa, trc = 0, e.code
                    self.assertEqual((trc, pa), (ca["translate"], ca["pa"]), hex(va))
                    try:
                        data, rrc, missing = dump.read_virtual(va, 16), 0, 0
                    except khang.KhangError as e:
                        rrc = e.code
                        data = getattr(e, "data", b"")
                        missing = getattr(e, "missing_address", 0)
                        if rrc == khang.ENOTPRESENT:
                            self.assertEqual(dump.read_virtual(va, 16, partial=True), data)
                    self.assertEqual((rrc, data.hex(), missing),
                                     (ca["read"], ca["bytes"], ca["missing"]), hex(va))
                    try:
                        st = dump.walk_stack(va)
                    except khang.KhangError as e:
                        self.assertEqual({"error": e.code}, ca["stack"], hex(va))
                    else:
                        self.assertEqual(st.end_reason, ca["stack"]["end"])
                        self.assertEqual([[f.ip, f.sp, int(f.kind)] for f in st],
                                         ca["stack"]["frames"], hex(va))
                self.assertEqual(dump.warning_count, c["warnings"])

    @needs("KHANG_C_REFERENCE")
    def test_structures_match_c(self):
        """Every ctypes structure has the C member offsets and size."""
        import ctypes
        from khang import _types
        c = run_json(env("KHANG_C_REFERENCE"), "structs")
        for cls, cname in _types.C_STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertIn(cname, c)
                members = c[cname]["members"]
                py = [f[0] for f in cls._fields_]
                self.assertEqual(py, list(members), "members differ from the C structure: "
                                 "update khang/_types.py and tests/c_reference.c")
                for name, (off, size) in members.items():
                    field = getattr(cls, name)
                    self.assertEqual((field.offset, field.size), (off, size), name)
                self.assertEqual(ctypes.sizeof(cls), c[cname]["size"])


@needs("KHANG_CLI")
class TestAgainstCli(unittest.TestCase):
    """`khang info --json` and `khang modules --json` agree with Python."""

    def test_info(self):
        for path in dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                j = run_json(env("KHANG_CLI"), "info", "--json", path)
                d = j["dump"]
                info = dump.info()
                self.assertEqual(d["file_size"], info.file_size)
                self.assertEqual(d["type"], info.dump_type_name)
                self.assertEqual(d["dump_type"], int(info.dump_type))
                self.assertEqual(d["arch"], info.arch_name)
                self.assertEqual(d["pae"], info.pae)
                self.assertEqual(d["build"], info.build)
                self.assertEqual(d["processors"], info.processors)
                self.assertEqual(d["bugcheck_code"], hexs(info.bugcheck_code))
                self.assertEqual(d["bugcheck_params"], [hexs(p) for p in info.bugcheck_params])
                self.assertEqual(d["dtb"], hexs(info.dtb))
                self.assertEqual(d["pages_indexed"], info.pages_indexed)
                self.assertEqual(d["pages_missing"], info.pages_missing)
                try:
                    k = dump.kernel_info()
                except khang.KhangError:
                    self.assertIsNone(j["kernel"])
                else:
                    jk = j["kernel"]
                    self.assertEqual(jk["base"], hexs(k.base))
                    self.assertEqual(jk["pdb"], k.pdb_name)
                    self.assertEqual(jk["pdb_id"], k.pdb_id)
                    self.assertEqual(jk["kdbg"], hexs(k.kdbg_address))
                    self.assertEqual(jk["kdbg_valid"], k.kdbg_valid)
                    self.assertEqual(jk["kdbg_was_encoded"], k.kdbg_was_encoded)
                    self.assertEqual(jk["layout"], k.layout.description if k.layout else "")
                    self.assertEqual(jk["layout_check"], k.check_name)
                    self.assertEqual(jk["layout_note"], k.layout_note)
                    self.assertEqual(jk["tick_count"], k.tick_count)
                self.assertEqual(j["warnings"], dump.warnings)

    def test_modules(self):
        for path in kernel_dumps():
            with self.subTest(dump=path), khang.open(path) as dump:
                j = run_json(env("KHANG_CLI"), "modules", "--json", path)
                it = dump.modules()
                mods = [{"name": m.name, "base": hexs(m.base), "size": m.size, "path": m.path}
                        for m in it]
                self.assertEqual(j["modules"], mods)
                self.assertEqual(j["skipped"], it.skipped)
                unl = []
                for u in dump.unloaded_drivers():
                    e = {"name": u.name, "start": hexs(u.start), "end": hexs(u.end)}
                    if u.unload_time:
                        when = datetime.datetime(1601, 1, 1) + datetime.timedelta(microseconds=u.unload_time // 10)
                        e["unloaded"] = when.strftime("%Y-%m-%d %H:%M:%S UTC")
                    unl.append(e)
                self.assertEqual(j["unloaded"], unl)

    def test_unloaded_real_triage(self):
        real = [p for p in dumps() if p.endswith("triage_x64.dmp")]
        if not real:
            self.skipTest("realdumps/triage_x64.dmp not available (set KHANG_SHARED_DIR)")
        for path in real:
            with khang.open(path) as dump:
                u = dump.unloaded_drivers()
                self.assertEqual([d.name for d in u], ["dam.sys", "WdBoot.sys", "hwpolicy.sys", "mcupdate.dll"])
                self.assertEqual((u[0].start, u[0].end), (0xfffff80487de0000, 0xfffff80487dfc000))
                self.assertIn(0xfffff80487de0040, u[0])
                self.assertEqual(u[0].unload_time, 0)
                self.assertEqual(dump.symbolize(0xfffff80487de0040), "<Unloaded_dam.sys>+0x40")


class TestPythonSide(unittest.TestCase):
    """What only the bindings add: objects, iteration, options, threads."""

    def setUp(self):
        ks = kernel_dumps()
        if not ks:
            self.skipTest("no fixture dump ($KHANG_TEST_DUMPS)")
        self.path = ks[0]

    def test_context_manager_and_close(self):
        with khang.open(self.path) as dump:
            self.assertFalse(dump.closed)
            mods = list(dump.modules())
        self.assertTrue(dump.closed)
        self.assertTrue(mods and mods[0].name)        # fields outlive the dump
        with self.assertRaises(khang.KhangError) as cm:
            dump.info()
        self.assertEqual(cm.exception.code, khang.EINVAL)
        dump.close()                                 # twice is fine

    def test_close_with_live_iterator(self):
        dump = khang.open(self.path)
        it = dump.modules()
        next(it)
        dump.close()                                 # frees the C iterator first
        self.assertEqual(list(it), [])

    def test_from_bytes_and_options(self):
        with open(self.path, "rb") as f:
            data = f.read()
        with khang.open(self.path) as a, khang.Dump.from_bytes(data) as b, \
                khang.open(self.path, no_mmap=True, tlb_entries=1, max_list_entries=100) as c:
            self.assertEqual(a.info(), b.info())
            self.assertEqual(a.info(), c.info())
            self.assertEqual([m.name for m in a.modules()], [m.name for m in b.modules()])
            self.assertEqual([m.name for m in a.modules()], [m.name for m in c.modules()])
            k = a.kernel_info()
            self.assertEqual(a.read_virtual(k.base, 64), b.read_virtual(k.base, 64))
            self.assertEqual(a.read_virtual(k.base, 2), b"MZ")
        with self.assertRaises(TypeError):
            khang.open(self.path, no_such_option=1)

    def test_modules_and_symbols(self):
        with khang.open(self.path) as dump:
            k = dump.kernel_info()
            mods = list(dump.modules())
            nt = mods[0]
            self.assertEqual(nt.base, k.base)
            self.assertIn(k.base + 1, nt)
            self.assertNotIn(nt.end, nt)
            self.assertEqual(dump.module_at(k.base + 1), nt)
            self.assertIsNone(dump.module_at(0x1000))
            for m in mods[1:]:
                # "module!export+0x.." when the image exports a name below the
                # address, else "module+0x.."
                short = m.name.rsplit(".", 1)[0]
                sym = dump.symbolize(m.base + 0x1bce3 % m.size)
                if "!" in sym:
                    self.assertTrue(sym.startswith(short + "!"), sym)
                else:
                    self.assertEqual(sym, "%s+0x%x" % (short, 0x1bce3 % m.size))
            self.assertEqual(dump.symbolize(0x1234), "0x1234")
            self.assertTrue(dump.symbolize(k.base + 0x1000).startswith("nt!"))

    def test_layouts(self):
        with khang.open(self.path) as dump:
            k = dump.kernel_info()
            if not k.layout or not k.layout.guid:
                self.skipTest("fixture without a GUID layout")
            guid, age = k.layout.guid.rsplit("-", 1)
            lay = khang.Layout.builtin(guid, int(age))
            self.assertEqual(lay, k.layout)
            self.assertEqual(lay.source, khang.LayoutSource.BUILTIN_GUID)
            self.assertEqual(lay.arch, dump.info().arch)
            self.assertIsNone(khang.Layout.builtin("0" * 32, 1))
        with khang.open(self.path, layout=lay) as dump:
            self.assertIn("caller", dump.kernel_info().layout_note)
        with self.assertRaises(khang.KhangError) as cm:
            khang.Layout.from_isf_bytes(b"this is not JSON")
        self.assertIn(cm.exception.code, (khang.EFORMAT, khang.EUNSUPPORTED))

    def test_isf_layout(self):
        """A Volatility 3 ISF file given for a dump (the shared x86 layouts)."""
        import os
        shared = env("KHANG_SHARED_DIR")
        isf = os.path.join(shared or "", "layouts", "x86", "Win7SP1x86.json.xz")
        x86 = [d for d in kernel_dumps() if os.path.basename(d) == "x86pae_7601"]
        if not shared or not os.path.isfile(isf) or not x86:
            self.skipTest("no ISF file or x86 fixture")
        try:
            lay = khang.Layout.load_isf(isf)
        except khang.KhangError as e:
            if e.code == khang.EUNSUPPORTED:
                self.skipTest("libkhang built without json-c/liblzma")
            raise
        with lay:
            self.assertEqual((lay.build, lay.arch, lay.source), (7601, khang.Arch.X86, khang.LayoutSource.ISF))
            with khang.open(x86[0], layout=lay) as dump:
                k = dump.kernel_info()
                self.assertEqual(k.layout, lay)
                self.assertIn("given by the caller", k.layout_note)
                with self.assertRaises(khang.KhangError):
                    lay.close()                      # still used by the dump
        self.assertEqual(repr(lay), "<khang.Layout closed>")

    def test_partial_reads(self):
        with khang.open(self.path) as dump:
            with self.assertRaises(khang.KhangError) as cm:
                dump.read_virtual(0xfffff80000000000, 32)
            e = cm.exception
            self.assertEqual(e.code, khang.ENOTPRESENT)
            self.assertEqual(e.missing_address, 0xfffff80000000000)
            self.assertEqual(e.data, b"")
            self.assertIn("0xfffff80000000000", e.message)
            self.assertEqual(dump.read_virtual(0xfffff80000000000, 32, partial=True), b"")
            info = dump.info()
            self.assertEqual(len(dump.read_physical(info.dtb, 8)), 8)

    def test_threads_share_a_dump(self):
        """Calls on one dump from several threads take turns (no crash, same
        answers), and each thread has its own last error."""
        with khang.open(self.path) as dump:
            k = dump.kernel_info()
            expected = [dump.symbolize(k.base + i * 0x100) for i in range(200)]
            results, errors = [], []

            def work():
                try:
                    got = [dump.symbolize(k.base + i * 0x100) for i in range(200)]
                    results.append(got == expected)
                    try:
                        dump.read_virtual(0x10, 1)
                    except khang.KhangError as e:
                        results.append(e.code == khang.ENOTPRESENT)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertTrue(all(results) and len(results) == 8)


if __name__ == "__main__":
    unittest.main()
