"""Python that runs inside the evaluation kernel, kept as real files: read as text by
cibench.kernel and cibench.scoring.figure_data, never imported by the harness."""
