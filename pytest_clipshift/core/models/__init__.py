"""The model side: loading encoders of every family (``encoders``, open_clip weights mapped onto
transformers' modules in ``open_clip_weights``), the checkpoint's own resize and crop
(``preprocess``), and the text side of zero-shot metrics (``textalign``)."""
