#!/usr/bin/env python3
"""Tests of tools/module_cycles.py on small crates written to a temporary directory.

Usage: python3 tools/test_module_cycles.py
"""
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_cycles.py")


def run(files):
    """Write `files` (path under src -> text) and run the tool on them: (exit code, output)."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        for path, text in files.items():
            p = os.path.join(src, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        r = subprocess.run([sys.executable, TOOL, src], capture_output=True, text=True, check=False)
        return r.returncode, r.stdout


# `core` and `app` are areas (directories); `app::a` uses `core::x`.
ONE_WAY = {
    "lib.rs": "mod core;\nmod app;\n",
    "core/mod.rs": "pub(crate) mod x;\npub(crate) mod y;\n",
    "core/x.rs": "pub(crate) struct X;\n",
    "core/y.rs": "use super::x::X;\n",
    "app/mod.rs": "pub(crate) mod a;\n",
    "app/a.rs": "use crate::core::x::X;\n",
}


def run_changed(changes):
    """`run` on `ONE_WAY` with `changes` (path -> text) written over it."""
    return run({**ONE_WAY, **changes})


class ModuleCycles(unittest.TestCase):
    def test_a_crate_whose_modules_use_each_other_one_way_passes(self):
        code, out = run(ONE_WAY)
        self.assertEqual(code, 0, out)
        self.assertIn("no module cycles (6 modules", out)

    def test_two_files_that_use_each_other_are_a_cycle(self):
        code, out = run_changed({
            "core/x.rs": "use super::y::Y;\npub(crate) struct X;\n",
            "core/y.rs": "use super::x::X;\npub(crate) struct Y;\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("cycle: crate::core::x, crate::core::y", out)

    def test_areas_that_use_each_other_through_different_files_are_a_sibling_cycle(self):
        # No file cycle: core::y -> app::b, app::a -> core::x. But `core` and `app` use each other.
        code, out = run_changed({
            "app/mod.rs": "pub(crate) mod a;\npub(crate) mod b;\n",
            "app/b.rs": "pub(crate) struct B;\n",
            "core/y.rs": "use crate::app::b::B;\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("sibling cycle: crate::app, crate::core", out)
        self.assertIn("crate::core::y -> crate::app::b", out)
        self.assertNotIn("\ncycle:", "\n" + out)

    def test_a_test_module_and_a_facade_re_export_are_not_dependencies(self):
        code, out = run_changed({
            "core/x.rs": "pub(crate) struct X;\n#[cfg(test)]\nmod tests {\n    use crate::app::a;\n}\n",
            "core/mod.rs": "pub(crate) mod x;\npub(crate) mod y;\npub use crate::app::a;\n",
        })
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main()
