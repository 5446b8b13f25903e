"""Thread stacks and unique stacks through the bindings, compared with the
khang tool's JSON on the dumps mk_stack_dumps writes ($KHANG_STACK_DUMPS)."""

import os
import unittest

import khang

from support import env, needs, run_json


def stack_dump(name):
    return os.path.join(env("KHANG_STACK_DUMPS"), name)


@needs("KHANG_STACK_DUMPS")
class TestStacks(unittest.TestCase):

    def test_thread_stack_same_as_cli(self):
        path = stack_dump("stacks_x64.dmp")
        with khang.open(path) as dump:
            cli = run_json(env("KHANG_CLI"), "stacks", "--json", path) if env("KHANG_CLI") else None
            if not cli:
                self.skipTest("$KHANG_CLI not set")
            self.assertGreater(len(cli["threads"]), 5)
            for t in cli["threads"]:
                st = dump.thread_stack(int(t["thread"], 16))
                self.assertEqual(st.thread, int(t["thread"], 16))
                self.assertEqual(len(st), len(t["frames"]))
                self.assertEqual(st.end_reason, t["end_reason"])
                for f, c in zip(st, t["frames"]):
                    self.assertEqual(f.ip, int(c["ip"], 16))
                    self.assertEqual(f.sp, int(c["sp"], 16))
                    self.assertEqual(f.symbol, c["text"])
                    self.assertEqual(f.module, c["module"])
                    self.assertEqual(f.kind.name.lower(), c["kind"])
                    self.assertEqual(f.user_mode, c["user"])

    def test_syscall_and_flags(self):
        with khang.open(stack_dump("stacks_x64.dmp")) as dump:
            st = dump.thread_stack(0xffffa0000001c0b0)
            self.assertEqual(st.start, khang.StackStart.SWITCH_FRAME)
            self.assertEqual(st.end, khang.StackEnd.COMPLETE)
            texts = [f.symbol for f in st]
            self.assertEqual(texts[0], "nt!KiSwapContext+0x76")
            self.assertIn("ntdll!RtlUserThreadStart+0x21", texts)
            trap = [f for f in st if f.kind == khang.FrameKind.TRAP]
            self.assertEqual(len(trap), 1)
            self.assertTrue(trap[0].user_mode)
            self.assertNotEqual(trap[0].trap_frame, 0)
            kernel = dump.thread_stack(0xffffa0000001c0b0, flags=khang.StackFlags.KERNEL_ONLY)
            self.assertEqual(kernel.end, khang.StackEnd.USER_MODE)
            self.assertEqual(len(kernel), texts.index("ntdll!NtWaitForSingleObject+0x14"))
            self.assertEqual(len(dump.thread_stack(0xffffa0000001c0b0, max_frames=2)), 2)
            with self.assertRaises(khang.KhangError) as e:
                dump.thread_stack(0x1234)
            self.assertIn(e.exception.code, (khang.ENOTFOUND, khang.ENOTPRESENT, khang.ECORRUPT))

    def test_unique_stacks(self):
        path = stack_dump("stacks_x64.dmp")
        with khang.open(path) as dump:
            groups = dump.unique_stacks()
            self.assertEqual([len(g) for g in groups], sorted((len(g) for g in groups), reverse=True))
            self.assertEqual(len(groups[0]), 3)
            if env("KHANG_CLI"):
                cli = run_json(env("KHANG_CLI"), "stacks", path, "--unique", "--json")
                self.assertEqual([[int(a, 16) for a in g["threads"]] for g in cli["groups"]],
                                 [list(g.threads) for g in groups])
                self.assertEqual([[int(f["ip"], 16) for f in g["frames"]] for g in cli["groups"]],
                                 [list(g.stack.ips) for g in groups])
            scanned = dump.unique_stacks(module="nopdata")
            self.assertEqual(len(scanned), 1)
            self.assertIn(khang.FrameKind.SCAN, [f.kind for f in scanned[0].stack])
            self.assertEqual(len(dump.unique_stacks(symbol="FilterQuery+0x1c4")), 1)
            self.assertEqual(sum(len(g) for g in dump.unique_stacks(pid=0x1a4)), 7)
            self.assertEqual(dump.unique_stacks(module="nosuch"), [])

    def test_x86(self):
        with khang.open(stack_dump("stacks_x86.dmp")) as dump:
            groups = dump.unique_stacks()
            self.assertEqual([len(g) for g in groups], [2, 1])
            st = groups[1].stack
            self.assertEqual(st.frames[-1].symbol, "ntdll!RtlUserThreadStart+0x22")
            self.assertTrue(st.frames[-1].user_mode)


if __name__ == "__main__":
    unittest.main()
