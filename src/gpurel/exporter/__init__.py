"""gpurel's figures for Prometheus: which figures (``figures``, ``rolling``), their names
(``catalog``), the metric families and the caching collector of ``gpurel serve``
(``families``), and the text file of ``gpurel metrics`` (``textfile``)."""
