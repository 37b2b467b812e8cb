"""The bundled demo world: procedurally generated scenes and a tiny CLIP trained on them.

The demo model is trained on synthetic scenes only. Use it to see the tool work, never to draw
conclusions about real models.
"""
