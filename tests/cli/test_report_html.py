"""report.html and the report's warnings (results/scalebench_results/htmlreport.py, warnings.py),
on fake run files: each warning fires when it should and only then; the page parses, holds every
plot, table, the runs' metadata and the warnings, escapes what the files say, loads nothing from
outside; and a real browser (headless Chromium, skipped where it is not installed) shows it.

Run: cd tests/cli && /usr/bin/python3 -m unittest -v test_report_html
"""

import contextlib
import html.parser
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import types
import unittest
import urllib.parse
from unittest import mock

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "results"))
sys.path.insert(0, HERE)

from fake_runs import write_run  # noqa: E402
from scalebench_results import analysis, htmlreport, report  # noqa: E402
from scalebench_results import warnings as sw  # noqa: E402
from scalebench_results.runfile import load_run  # noqa: E402

REFERENCE = {"blas": "reference BLAS (netlib)",
             "blas_library": "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"}
BROWSER_TIMEOUT_S = 60


def run_report(argv, timeline=None):
    """report.main in this process (matplotlib imported once for the suite), with the timeline
    module replaced: None as if not importable, else the given module. Returns (rc, stdout,
    stderr)."""
    loader = ((lambda: (None, "scalebench_results.timeline is not importable (test)"))
              if timeline is None else (lambda: (timeline, "")))
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(htmlreport, "load_timeline_module", loader), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = report.main(argv)
    return rc, out.getvalue(), err.getvalue()


def fake_timeline(refuse="refused"):
    """A stand-in for scalebench_results.timeline: writes a small trace, refuses runs whose
    file name contains `refuse`."""
    def write_trace(run_path, out_path, steps=None, ranks=None):
        if refuse in os.path.basename(run_path):
            raise ValueError("no bucket timings in this run")
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": [{"name": "step", "ph": "X", "ts": 0, "dur": 1,
                                        "pid": 0, "tid": 0}]}, f)
        return {"events": 1}
    return types.SimpleNamespace(write_trace=write_trace)


class Page(html.parser.HTMLParser):
    """What the tests look at in a page: text, tables, plot figures and their SVG, links,
    anything that would load from outside."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.tables = []            # class attribute of each <table>
        self.figures = {}           # figure id -> number of top-level <svg> inside
        self.svg_total = 0
        self.links = []             # href of <a>
        self.external = []          # (tag, attribute, value) that would load a resource
        self.scripts = 0
        self.tags = {}
        self._figure = None
        self._svg_depth = 0
        self._style = False
        self.style_text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.tables.append(a.get("class", ""))
        if tag == "figure":
            self._figure = a.get("id")
            self.figures[self._figure] = 0
        if tag == "svg":
            if self._svg_depth == 0:
                self.svg_total += 1
                if self._figure is not None:
                    self.figures[self._figure] += 1
            self._svg_depth += 1
        if tag == "style":
            self._style = True
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for name in ("src", "srcset", "data", "poster"):
            if name in a:
                self.external.append((tag, name, a[name]))
        if tag == "link":
            self.external.append((tag, "href", a.get("href")))
        for name in ("href", "xlink:href"):
            value = a.get(name) or ""
            if "://" in value or value.startswith("//"):
                self.external.append((tag, name, value))

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        if tag == "svg":
            self._svg_depth -= 1
        if tag == "style":
            self._style = False

    def handle_data(self, data):
        if self._style:
            self.style_text += data
        else:
            self.text.append(data)

    @property
    def all_text(self):
        return "".join(self.text)


def assert_in_page(test, needle, text):
    """assertIn for a page's text: a failure names the needle, not the whole page."""
    if needle not in text:
        test.fail(f"{needle!r} is not in the page's text ({len(text)} characters)")


def parse(text):
    p = Page()
    p.feed(text)
    p.close()
    return p


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scalebench-html-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_of(self, name="run.h5", **kwargs):
        kwargs.setdefault("n_steps", 8)
        return load_run(write_run(self.path(name), **kwargs))

    def kinds(self, runs):
        return [w.kind for w in sw.study_warnings(runs)]


class CpuList(unittest.TestCase):
    def test_ranges_and_singles(self):
        self.assertEqual(sw.parse_cpu_list("0-3,8"), {0, 1, 2, 3, 8})
        self.assertEqual(sw.parse_cpu_list("5"), {5})
        self.assertEqual(sw.parse_cpu_list("0-1,1-2"), {0, 1, 2})

    def test_refuses_what_is_not_a_list(self):
        for text in ("unknown", "", "3-1", "a", "1,,2", "1-"):
            with self.assertRaises(ValueError, msg=text):
                sw.parse_cpu_list(text)


class Oversubscription(TempDir):
    def test_more_ranks_than_cpus_on_a_host(self):
        run = self.run_of(world_size=4)  # fake_runs' default affinity: "0-1" for every rank
        (w,) = sw.oversubscription(run)
        self.assertEqual(w.kind, sw.OVERSUBSCRIBED)
        self.assertIn("4 ranks x 1 thread on 2 CPUs of host node0: oversubscribed, efficiency "
                      "at this point is not the machine's", w.message)

    def test_threads_count_from_intra_op_threads(self):
        fits = self.run_of("fits.h5", world_size=2, cpu_affinity="0-3",
                           attrs={"intra_op_threads": 2})
        self.assertEqual(sw.oversubscription(fits), [])
        over = self.run_of("over.h5", world_size=2, cpu_affinity="0-3", threads=1,
                           attrs={"intra_op_threads": 4})
        (w,) = sw.oversubscription(over)
        self.assertIn("2 ranks x 4 threads on 4 CPUs of host node0", w.message)

    def test_threads_attribute_in_files_without_intra_op_threads(self):
        run = self.run_of(world_size=2, cpu_affinity="0-3", threads=3, schema_version=2)
        self.assertIsNone(run.attr("intra_op_threads"))
        (w,) = sw.oversubscription(run)
        self.assertIn("2 ranks x 3 threads on 4 CPUs", w.message)

    def test_union_of_the_ranks_affinity(self):
        # each rank pinned to a CPU of its own: 4 ranks on 4 CPUs
        run = self.run_of(world_size=4, cpu_affinity=["0", "1", "2", "3"])
        self.assertEqual(sw.oversubscription(run), [])
        self.assertEqual([h.cpus for h in sw.host_loads(run)], [4])

    def test_per_host(self):
        run = self.run_of(world_size=4, nodes=2, cpu_affinity=["0", "0", "0-1", "0-1"])
        (w,) = sw.oversubscription(run)
        self.assertIn("2 ranks x 1 thread on 1 CPU of host node0", w.message)
        self.assertNotIn("node1", w.message)

    def test_unknown_affinity_is_never_guessed(self):
        run = self.run_of(world_size=4, cpu_affinity=["0", "unknown", "0", "0"])
        self.assertEqual(sw.oversubscription(run), [])

    def test_not_on_cuda_runs(self):
        run = self.run_of(world_size=4, device="cuda")
        self.assertEqual(sw.oversubscription(run), [])


class ReferenceBlas(TempDir):
    def test_fires_on_reference_blas(self):
        (w,) = sw.reference_blas(self.run_of(attrs=REFERENCE))
        self.assertEqual(w.kind, sw.REFERENCE_BLAS)
        self.assertIn("reference (netlib) BLAS", w.message)

    def test_from_the_library_path_where_blas_is_not_recorded(self):
        run = self.run_of(schema_version=2, attrs={"blas_library": REFERENCE["blas_library"]})
        self.assertEqual(len(sw.reference_blas(run)), 1)

    def test_not_on_openblas_nor_cuda(self):
        self.assertEqual(sw.reference_blas(self.run_of("a.h5")), [])
        self.assertEqual(sw.reference_blas(self.run_of("b.h5", device="cuda", attrs=REFERENCE)), [])


class FewSteps(TempDir):
    def test_minimum_is_where_the_interval_reaches_its_level(self):
        self.assertEqual(sw.MIN_MEASURED_STEPS, 6)
        self.assertGreaterEqual(analysis.median_ci_indices(6)[2], analysis.CI_LEVEL)
        self.assertLess(analysis.median_ci_indices(5)[2], analysis.CI_LEVEL)

    def test_fires_below_the_minimum_warmup_not_counted(self):
        run = self.run_of(n_steps=8, warmup=3)
        (w,) = sw.few_steps(run)
        self.assertEqual(w.kind, sw.FEW_STEPS)
        self.assertIn("5 measured steps, fewer than the 6 a 95% order-statistic interval",
                      w.message)
        self.assertIn("93.8% coverage", w.message)

    def test_the_reports_count_first(self):
        run = self.run_of(n_steps=8)
        self.assertEqual(len(sw.few_steps(run, {"measured_steps": 2})), 1)

    def test_quiet_from_the_minimum(self):
        self.assertEqual(sw.few_steps(self.run_of(n_steps=8, warmup=2)), [])


class MixedBuilds(TempDir):
    def test_library_version_differs(self):
        a = self.run_of("a.h5", attrs={"version_libtorch": "2.1.0"})
        b = self.run_of("b.h5", attrs={"version_libtorch": "2.2.0"})
        (w,) = sw.mixed_builds([a, b])
        self.assertEqual(w.kind, sw.MIXED_BUILDS)
        self.assertIn("libtorch", w.message)
        self.assertIn("'2.1.0' in 1 run (a.h5)", w.message)
        self.assertIn("'2.2.0' in 1 run (b.h5)", w.message)

    def test_scalebench_build_differs(self):
        a = self.run_of("a.h5", attrs={"git_revision": "abc123"})
        b = self.run_of("b.h5", attrs={"git_revision": "def456"})
        (w,) = sw.mixed_builds([a, b])
        self.assertIn("scalebench", w.message)
        self.assertIn("git abc123", w.message)

    def test_blas_differs(self):
        a = self.run_of("a.h5")
        b = self.run_of("b.h5", attrs=REFERENCE)
        (w,) = sw.mixed_builds([a, b])
        self.assertIn("different blas builds or versions", w.message)

    def test_same_builds_and_absent_attributes_are_quiet(self):
        a = self.run_of("a.h5")
        b = self.run_of("b.h5")
        old = self.run_of("old.h5", schema_version=2)  # no math attributes: not "different"
        self.assertEqual(sw.mixed_builds([a, b, old]), [])


class MixedHosts(TempDir):
    def test_ranks_of_one_run_on_different_cpus(self):
        run = self.run_of(world_size=4, nodes=2, cpu_affinity="0-3",
                          device_name=["cpu: A", "cpu: A", "cpu: B", "cpu: B"])
        (w,) = sw.mixed_devices_in_run(run)
        self.assertEqual(w.kind, sw.MIXED_HOSTS)
        self.assertIn("'cpu: A' on node0; 'cpu: B' on node1", w.message)

    def test_points_of_one_curve_on_different_cpus(self):
        a = self.run_of("np1.h5", world_size=1, device_name="cpu: A")
        b = self.run_of("np2.h5", world_size=2, device_name="cpu: B")
        warnings = [w for w in sw.study_warnings([a, b]) if w.kind == sw.MIXED_HOSTS]
        (w,) = warnings
        self.assertIn("curve mlp weak cpu-t1", w.message)
        self.assertEqual(set(w.runs), {"np1.h5", "np2.h5"})

    def test_different_gpus_are_different_curves_not_a_warning(self):
        a = self.run_of("a.h5", device="cuda", device_name="NVIDIA A100")
        b = self.run_of("b.h5", device="cuda", world_size=2, device_name="NVIDIA H100")
        self.assertEqual([w for w in sw.study_warnings([a, b]) if w.kind == sw.MIXED_HOSTS], [])

    def test_one_device_model_is_quiet(self):
        run = self.run_of(world_size=4, nodes=2, cpu_affinity="0-3")
        self.assertEqual(sw.mixed_devices_in_run(run), [])


class CleanStudy(TempDir):
    def test_no_warnings_and_no_warning_block(self):
        for n in (1, 2, 4):
            write_run(self.path(f"np{n}.h5"), world_size=n, n_steps=8, cpu_affinity="0-3")
        runs = [load_run(self.path(f"np{n}.h5")) for n in (1, 2, 4)]
        self.assertEqual(sw.study_warnings(runs), [])
        rc, out, err = run_report([self.dir, "--no-plots"])
        self.assertEqual(rc, 0, err)
        self.assertNotIn("warnings (", out)
        with open(self.path("report.html"), encoding="utf-8") as f:
            page = parse(f.read())
        assert_in_page(self, "No warnings", page.all_text)


class TextOutput(TempDir):
    def test_warnings_under_the_table(self):
        for n in (1, 4):
            write_run(self.path(f"np{n}.h5"), world_size=n, n_steps=4)
        rc, out, err = run_report([self.dir, "--no-plots", "--no-html"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "mlp weak cpu-t1  (speedup over N=1)")  # table unchanged
        start = next(i for i, line in enumerate(lines) if line.startswith("warnings ("))
        block = lines[start:]
        self.assertTrue(any("oversubscribed: cpu-t1-np4 (np4.h5): 4 ranks x 1 thread on 2 "
                            "CPUs of host node0" in line for line in block), block)
        self.assertEqual(sum("few-steps:" in line for line in block), 2, block)
        self.assertFalse(os.path.exists(self.path("report.html")))


def write_study(d):
    """A study of two curves (threads 1 and 2: a hardware comparison), one run on the
    reference BLAS with few steps, one with another LibTorch, one oversubscribed, one whose
    file says things that need escaping, one the fake timeline refuses."""
    for n in (1, 2, 4):
        write_run(os.path.join(d, f"mlp-t1-np{n}.h5"), world_size=n, n_steps=8, warmup=1,
                  cpu_affinity="0-7", bucket_bytes=[1 << 20], bucket_duration_s=0.002,
                  step_s=np.full((8, n), 0.1 + 0.01 * n),
                  attrs={"version_libtorch": "2.1.0", "version_mpi": "Open MPI v4.1.4"})
    write_run(os.path.join(d, "mlp-t2-np1.h5"), world_size=1, threads=2, n_steps=4,
              cpu_affinity="0-7", attrs=dict(REFERENCE, intra_op_threads=2,
                                             version_libtorch="2.1.0"))
    write_run(os.path.join(d, "mlp-t2-np4-refused.h5"), world_size=4, threads=2, n_steps=8,
              cpu_affinity="0-3", attrs={"intra_op_threads": 2, "version_libtorch": "2.2.0"})
    write_run(os.path.join(d, "odd.h5"), world_size=2, n_steps=8, model="<script>x</script>",
              hostnames=["h<1>&\"", "h<1>&\""], cpu_affinity="0-7",
              tag="<b>bold</b>", attrs={"version_libtorch": "2.1.0",
                                        "command_line": "scalebench train --tag '<b>bold</b>'",
                                        "run_warnings": "the run <warned> itself"})


_SHARED = {}


def shared_study():
    """The study of write_study and its report (plots as PNG, the fake timeline), made once
    for the page checks and the browser's: drawing the plots is most of the suite's time."""
    if not _SHARED:
        d = tempfile.mkdtemp(prefix="scalebench-html-study-")
        out = os.path.join(d, "out")
        write_study(d)
        rc, stdout, stderr = run_report([d, "--out", out, "--format", "png"],
                                        timeline=fake_timeline())
        _SHARED.update(dir=d, out=out, rc=rc, stdout=stdout, stderr=stderr)
    return _SHARED


def tearDownModule():
    if _SHARED:
        shutil.rmtree(_SHARED["dir"], ignore_errors=True)


class Html(unittest.TestCase):
    """The page of the shared study."""

    @classmethod
    def setUpClass(cls):
        s = shared_study()
        cls.dir, cls.out, cls.rc, cls.stdout, cls.stderr = (
            s["dir"], s["out"], s["rc"], s["stdout"], s["stderr"])
        with open(os.path.join(cls.out, "report.html"), encoding="utf-8") as f:
            cls.html = f.read()
        cls.page = parse(cls.html)
        cls.runs = [load_run(p) for p in sorted(
            os.path.join(cls.dir, n) for n in os.listdir(cls.dir) if n.endswith(".h5"))]
        cls.warnings = sw.study_warnings(cls.runs)

    def test_report_ran(self):
        self.assertEqual(self.rc, 0, self.stderr)

    def test_every_plot_inline(self):
        plots = sorted(os.path.splitext(n)[0] for n in os.listdir(self.out) if n.endswith(".png"))
        self.assertIn("hardware", plots)  # two thread counts: a hardware comparison
        self.assertEqual(len(plots), 7)
        self.assertEqual(sorted(self.page.figures), sorted(f"plot-{p}" for p in plots))
        for fig, count in self.page.figures.items():
            self.assertEqual(count, 1, fig)
        self.assertEqual(self.page.svg_total, len(plots))
        self.assertNotIn("<?xml", self.html)
        self.assertNotIn("<!DOCTYPE svg", self.html)

    def test_svg_ids_unique_across_plots(self):
        import re
        ids = re.findall(r'\bid="([^"]+)"', self.html)
        self.assertEqual(len(ids), len(set(ids)))

    def test_every_table(self):
        with open(os.path.join(self.out, "summary.json"), encoding="utf-8") as f:
            groups = json.load(f)["groups"]
        self.assertEqual(len(groups), 3)
        self.assertEqual(self.page.tables.count("summary"), len(groups))
        self.assertEqual(self.page.tables.count("comparison"), 1)
        self.assertEqual(self.page.tables.count("runs"), 1)
        text = self.page.all_text
        for label in ("cpu-t1-np1", "cpu-t1-np2", "cpu-t1-np4", "cpu-t2-np1", "cpu-t2-np4"):
            assert_in_page(self, label, text)
        assert_in_page(self, "median step ms [95% CI]", text)

    def test_metadata(self):
        text = self.page.all_text
        for run in self.runs:
            assert_in_page(self, run.name, text)
        for needle in ("libtorch: 2.1.0", "libtorch: 2.2.0", "mpi: Open MPI v4.1.4",
                       "scalebench: 0.1.0 (git unknown)", "BLAS: OpenBLAS 0.3.21 (openmp)",
                       "BLAS: reference BLAS (netlib)", "hosts: node0", "launcher: outside Slurm",
                       "command: mpirun -np 4 scalebench train --model mlp",
                       "threads per rank: 2", "cpu: Test CPU"):
            assert_in_page(self, needle, text)

    def test_warnings_on_the_page_and_the_terminal(self):
        kinds = {w.kind for w in self.warnings}
        self.assertEqual(kinds, {sw.OVERSUBSCRIBED, sw.REFERENCE_BLAS, sw.FEW_STEPS,
                                 sw.MIXED_BUILDS})
        text = self.page.all_text
        for w in self.warnings:
            assert_in_page(self, w.message, text)
        self.assertGreaterEqual(self.page.tags.get("li", 0), len(self.warnings))
        for w in self.warnings:
            self.assertIn(w.kind + ": ", self.stdout)

    def test_text_from_files_is_escaped(self):
        self.assertEqual(self.page.scripts, 0)
        self.assertNotIn("<script>x</script>", self.html)
        self.assertNotIn("<b>bold</b>", self.html)
        text = self.page.all_text
        assert_in_page(self, "<script>x</script>", text)      # shown as text
        assert_in_page(self, 'h<1>&"', text)
        assert_in_page(self, "the run warned: the run <warned> itself", text)

    def test_nothing_from_outside(self):
        self.assertEqual(self.page.external, [])
        self.assertNotIn("@import", self.page.style_text)
        self.assertNotIn("url(", self.page.style_text)
        for href in self.page.links:
            self.assertFalse(urllib.parse.urlparse(href).scheme, href)

    def test_timeline_links_and_refusal(self):
        traces = [h for h in self.page.links if h.startswith("timelines/")]
        self.assertEqual(len(traces), len(self.runs) - 1)
        for href in traces:
            path = os.path.join(self.out, urllib.parse.unquote(href))
            with open(path, encoding="utf-8") as f:
                self.assertIn("traceEvents", json.load(f))
        self.assertFalse(any("refused" in h for h in traces))
        assert_in_page(self, "not written: ValueError: no bucket timings in this run",
                       self.page.all_text)
        written = sorted(os.listdir(os.path.join(self.out, "timelines")))
        self.assertEqual(written, sorted(os.path.basename(urllib.parse.unquote(h))
                                         for h in traces))  # no temporary file left

    def test_written_atomically(self):
        self.assertEqual([n for n in os.listdir(self.out) if n.startswith(".report.html")], [])
        self.assertTrue(self.html.rstrip().endswith("</html>"))


class HtmlOptions(TempDir):
    def study(self):
        for n in (1, 2):
            write_run(self.path(f"np{n}.h5"), world_size=n, n_steps=8, cpu_affinity="0-3")

    def test_timelines_unavailable(self):
        self.study()
        rc, _, err = run_report([self.dir, "--no-plots"], timeline=None)
        self.assertEqual(rc, 0, err)
        with open(self.path("report.html"), encoding="utf-8") as f:
            page = parse(f.read())
        assert_in_page(self, "Timelines are unavailable", page.all_text)
        assert_in_page(self, "Plots were not drawn (--no-plots)", page.all_text)
        self.assertFalse(os.path.exists(self.path("timelines")))
        self.assertEqual(page.svg_total, 0)

    def test_no_timelines_option(self):
        self.study()
        rc, _, err = run_report([self.dir, "--no-plots", "--no-timelines"],
                                timeline=fake_timeline())
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(self.path("timelines")))

    def test_no_html_leaves_the_outputs_as_they_were(self):
        self.study()
        with_html, without = self.path("with"), self.path("without")
        rc, _, err = run_report([self.dir, "--out", with_html, "--format", "svg"],
                                timeline=fake_timeline())
        self.assertEqual(rc, 0, err)
        rc, _, err = run_report([self.dir, "--out", without, "--format", "svg", "--no-html"],
                                timeline=fake_timeline())
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(os.listdir(without)),
                         sorted(set(os.listdir(with_html)) - {"report.html", "timelines"}))
        for name in ("summary.csv",):
            with open(os.path.join(with_html, name), "rb") as a, \
                    open(os.path.join(without, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        # the inline SVG is the file's, read back (rendered once)
        with open(os.path.join(with_html, "report.html"), encoding="utf-8") as f:
            page = parse(f.read())
        self.assertEqual(page.svg_total, 6)

    def test_trace_names_unique_across_subdirectories(self):
        names = htmlreport.trace_names(["s/nodes-1/run.h5", "s/nodes-2/run.h5",
                                        "s/nodes-1/x y.h5.partial"])
        self.assertEqual(sorted(names.values()), ["nodes-1__run.trace.json",
                                                  "nodes-1__x_y.trace.json",
                                                  "nodes-2__run.trace.json"])

    def test_help_starts_with_examples(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            report.main(["--help"])
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0], "examples:")
        self.assertTrue(all(line.strip().startswith("results/report ") for line in lines[1:4]),
                        lines[:4])
        self.assertIn("--no-html", out.getvalue())


class RealTimelineModule(TempDir):
    """With the real scalebench_results.timeline where it is installed: every run has a link
    to a JSON trace or a note."""

    def test_links_or_notes(self):
        module, why = htmlreport.load_timeline_module()
        if module is None:
            self.skipTest(f"the real timeline module is not importable: {why}")
        for n in (1, 2):
            write_run(self.path(f"np{n}.h5"), world_size=n, n_steps=8, cpu_affinity="0-3",
                      bucket_bytes=[1 << 20], bucket_duration_s=0.001)
        rc, _, err = run_report([self.dir, "--no-plots"], timeline=module)
        self.assertEqual(rc, 0, err)
        with open(self.path("report.html"), encoding="utf-8") as f:
            page = parse(f.read())
        links = [h for h in page.links if h.startswith("timelines/")]
        notes = page.all_text.count("not written:")
        self.assertEqual(len(links) + notes, 2)
        for href in links:
            with open(os.path.join(self.dir, urllib.parse.unquote(href)), encoding="utf-8") as f:
                json.load(f)


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_browser(args, workdir):
    """Headless Chromium with a fresh profile in workdir; its whole process group is killed
    (by the group id of the process started here) when it runs past the timeout, so that no
    renderer or zygote outlives the test. Returns (returncode, stdout)."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=workdir)
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=BROWSER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"chromium ran past {BROWSER_TIMEOUT_S} s: {' '.join(cmd)}")
    return proc.returncode, out.decode("utf-8", "replace")


@unittest.skipIf(chromium() is None, "chromium is not installed (apt-get install chromium): "
                 "the browser check of report.html did NOT run")
class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = shared_study()
        assert s["rc"] == 0, s["stderr"]
        cls.out = s["out"]
        # the browser's profile and screenshot in a directory of their own
        cls.dir = tempfile.mkdtemp(prefix="scalebench-html-browser-")
        cls.url = "file://" + urllib.parse.quote(os.path.join(cls.out, "report.html"))
        cls.plots = sorted(os.path.splitext(n)[0] for n in os.listdir(cls.out)
                           if n.endswith(".png"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_dom_after_load_holds_every_plot_and_table(self):
        rc, dom = run_browser(["--dump-dom", self.url], self.dir)
        self.assertEqual(rc, 0)
        page = parse(dom)
        self.assertEqual(sorted(page.figures), sorted(f"plot-{p}" for p in self.plots))
        self.assertTrue(all(count == 1 for count in page.figures.values()), page.figures)
        self.assertEqual(page.tables.count("runs"), 1)
        self.assertGreaterEqual(page.tables.count("summary"), 2)
        self.assertEqual(page.tables.count("comparison"), 1)
        assert_in_page(self, "oversubscribed", page.all_text)
        assert_in_page(self, "<script>x</script>", page.all_text)  # escaped text, not a script
        self.assertEqual(page.scripts, 0)

    def test_screenshot_is_not_blank(self):
        import matplotlib.image
        shot = os.path.join(self.dir, "shot.png")
        rc, _ = run_browser([f"--screenshot={shot}", "--window-size=1280,2000", self.url],
                            self.dir)
        self.assertEqual(rc, 0)
        image = matplotlib.image.imread(shot)
        self.assertEqual(image.shape[:2], (2000, 1280))
        rgb = image[..., :3]
        self.assertGreater(float(rgb.var()), 1e-3)
        # the page's text, tables and plots: a fair share of the pixels is not background
        not_white = float(np.mean(rgb.min(axis=2) < 0.9))
        self.assertGreater(not_white, 0.02)
        # and the top of the page holds ink in several rows (the heading and warnings)
        self.assertGreater(int(np.count_nonzero(rgb[:400].min(axis=(1, 2)) < 0.5)), 20)


if __name__ == "__main__":
    unittest.main()
