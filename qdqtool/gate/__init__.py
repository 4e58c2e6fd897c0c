"""The CI gate of ``qdqtool check``: lint rules (registry, ONNX, engine, baseline and meta rules), configuration,
waivers, baselines and the metrics a baseline records. The job that runs them is :mod:`qdqtool.jobs.check`."""
