"""One module per benchmark case: `run(mode, log) -> figures`, `summarize(figures) -> rows`,
`details(figures) -> [(title, headers, rows)]`."""
