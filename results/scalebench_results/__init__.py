"""Tables and plots of scalebench scaling studies (see results/report and docs/hdf5-layout.md).

runfile: load one run file; analysis: derived figures (numpy only); plots: matplotlib;
warnings: what makes figures not the machine's (pure functions of runs); htmlreport: the
self-contained report.html; report: the command-line entry point (python -m
scalebench_results.report).
"""

__version__ = "1.0"
