"""One schema: the run file's /steps fields are defined once, in the C++ table step_fields()
(src/metrics/step_record.cpp), which `scalebench schema --json` prints. Everything else that
spells them out must agree with it, or this test fails:

- the reader, results/scalebench_results/runfile.py (the fields it requires, its newest version);
- the tests' fake run files, tests/cli/fake_runs.py (names, types, units, descriptions, order);
- the layout document, docs/hdf5-layout.md (its /steps table, row by row);
- and the file the real writer produces (every dataset, with the table's unit and description)."""
import os
import re
import sys
import tempfile
import unittest

try:
    import h5py
except ImportError:  # a python3 without Debian's packages
    h5py = None

from scalebench_cli import require_binary, run_scalebench, step_schema

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAYOUT_DOC = os.path.join(ROOT, "docs", "hdf5-layout.md")


def doc_step_table():
    """(name, type, unit, description) rows of the /steps table in docs/hdf5-layout.md."""
    with open(LAYOUT_DOC, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("### `/steps/<field>`"):]
    section = section[:section.index("\n### ", 1)]
    rows = []
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z0-9_]+)` \| (int64|float64) \| ([^|]+) \| (.+) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3).strip(), m.group(4).strip()))
    return rows


@require_binary
class OneSchema(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = step_schema()
        cls.fields = [(f["name"], f["type"], f["unit"], f["description"]) for f in cls.schema["steps"]]

    def test_the_schema_describes_itself(self):
        names = [f[0] for f in self.fields]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(self.schema["format"], "scalebench-run")
        for group in ("phases", "between_steps"):
            self.assertTrue(set(self.schema[group]) <= set(names), group)
        self.assertIn("wall_s", names)
        for name, kind, unit, doc in self.fields:
            self.assertIn(kind, ("int64", "float64"), name)
            self.assertIn(unit, ("s", "B", "samples", "1"), name)
            self.assertTrue(doc, name)

    def test_layout_document_agrees(self):
        self.assertEqual(doc_step_table(), self.fields)

    @unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
    def test_fake_run_files_agree(self):
        sys.path.insert(0, HERE)
        import fake_runs
        fake = [(n, "int64" if is_int else "float64", unit, doc)
                for n, is_int, unit, doc in fake_runs.STEP_FIELDS]
        self.assertEqual(fake, self.fields)

    @unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
    def test_reader_agrees(self):
        sys.path.insert(0, os.path.join(ROOT, "results"))
        from scalebench_results import runfile
        self.assertEqual(runfile.SCHEMA_VERSION, self.schema["schema_version"])
        self.assertEqual(runfile.FORMAT_NAME, self.schema["format"])
        required = set(runfile.STEP_FIELDS) | set(runfile.STEP_FIELDS_V3)
        self.assertEqual(required, {f[0] for f in self.fields},
                         "the reader must require exactly the fields of the current version")

    @unittest.skipIf(h5py is None, "h5py missing: run with Debian's /usr/bin/python3")
    def test_written_file_agrees(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.h5")
            res = run_scalebench(["--model", "fcn_r", "--device", "cpu", "--steps", "2",
                                  "--warmup-steps", "0", "--batch-size", "2", "--threads", "1",
                                  "--quiet", "--output", path], ranks=1, timeout=300)
            self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
            with h5py.File(path, "r") as f:
                self.assertEqual(int(f.attrs["schema_version"]), self.schema["schema_version"])
                written = []
                for name in f["steps"]:
                    d = f["steps"][name]
                    written.append((name, "int64" if d.dtype.kind == "i" else "float64",
                                    d.attrs["unit"], d.attrs["description"]))
        self.assertEqual(sorted(written), sorted(self.fields))


if __name__ == "__main__":
    unittest.main()
