"""Image sets: folders and globs (``images``), labelled and captioned sets (``labelled``), safe
decoding (``decode``), the bundled sample images (``sample_images``) and the seeded stratified
sample of a labelled set (``sampling``)."""
