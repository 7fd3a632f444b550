"""The app's building blocks, below the pages.

display      pure helpers: letterboxed thumbnails, short class labels, plurals (no Streamlit)
measured     each shipped model's measured held-out accuracy, read from results/<model>.json
task_sources the Sample / Upload / Draw / Camera widgets and the task draft they fill
model_routing which model runs a task: photos to a photo model, drawings to a glyph model
results_view the playground's results: cards, confusion matrix, weights, "why this prediction?"
"""
