"""The verdict through Python: same answers as the C API and `khang analyze --json`."""

import json
import os
import unittest

import khang

from support import env, run_json

_CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fuzz", "corpus", "fuzz_verdict")


def _scenarios():
    d = os.path.normpath(_CORPUS)
    return sorted(os.path.join(d, f) for f in os.listdir(d)) if os.path.isdir(d) else []


class VerdictTest(unittest.TestCase):
    def test_scenarios(self):
        expected = {"deadlock": khang.Category.DEADLOCK, "mutant_chain": khang.Category.LOCK_CHAIN,
                    "eresource": khang.Category.LOCK_CHAIN, "starvation": khang.Category.CPU_STARVATION}
        if not _scenarios():
            self.skipTest("fuzz/corpus/fuzz_verdict not found")
        seen = 0
        for path in _scenarios():
            with self.subTest(path=path), khang.open(path) as dump:
                v = dump.hang_verdict()
                for key, cat in expected.items():
                    if path.endswith(key):
                        self.assertEqual(v.category, cat)
                        seen += 1
                self.assertTrue(v.summary)
                self.assertTrue(0 <= v.confidence <= 100)
                doc = json.loads(v.to_json())
                self.assertEqual(doc["category"], v.category_name)
                self.assertEqual(doc["summary"], v.summary)
                self.assertEqual(len(doc["chain"]), len(v.chain))
                for step, js in zip(v.chain, doc["chain"]):
                    self.assertEqual(step.text, js["text"])
                    if step.thread is not None:
                        self.assertEqual(hex(step.thread), js["thread"])
                        self.assertEqual(step.tid, js["tid"])
                self.assertEqual([c.name for c in v.checks], [c["name"] for c in doc["checks"]])
                self.assertTrue(v.to_dot().startswith("digraph"))
                cli = env("KHANG_CLI")
                if cli:
                    self.assertEqual(run_json(cli, "analyze", "--json", path)["summary"], v.summary) \
                        if v.category != khang.Category.NO_HANG else None
        self.assertGreaterEqual(seen, 4)

    def test_deadlock_chain(self):
        paths = [p for p in _scenarios() if p.endswith("x64_deadlock")]
        if not paths:
            self.skipTest("fuzz/corpus/fuzz_verdict not found")
        with khang.open(paths[0]) as dump:
            v = dump.hang_verdict()
            self.assertEqual(len(v.chain), 2)
            self.assertEqual({s.process for s in v.chain}, {"app.exe"})
            self.assertEqual(v.culprit_process, "app.exe")
            self.assertIn(v.culprit_tid, {s.tid for s in v.chain})


if __name__ == "__main__":
    unittest.main()
