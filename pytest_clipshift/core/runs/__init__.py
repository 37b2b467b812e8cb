"""What a run produced: result types and their JSON form (``results``, ``schema``, atomic writes
and strict reads in ``jsonfile``), per-image summaries (``summary``) and the fit of which metric
predicts the accuracy drop (``calibration``)."""
