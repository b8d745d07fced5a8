import ArgumentParser

/// `--metrics-file`, for the commands that record runs (`sync`, `update`, `rollback`) and for `gc`.
struct MetricsOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Write Prometheus metrics to FILE after the run, failed or not (node_exporter's textfile collector: a name \
            ending in .prom in its directory). Replaced atomically, mode 0644. See docs/METRICS.md.
            """,
            valueName: "file"))
    var metricsFile: String?
}
