"""One pytest run's clipshift state: its resources (model, images, cache), its measurements (memoised,
prefetched), what each process measured (``state``) and the end of the run (``finish``)."""
