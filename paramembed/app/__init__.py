"""The app's building blocks, below the pages.

display      pure helpers: letterboxed thumbnails, short class labels, plurals (no Streamlit)
measured     each shipped model's measured held-out accuracy, read from results/<model>.json
task_sources the Sample / Upload / Draw / Camera widgets and the task draft they fill
model_routing which model runs a task: photos to a photo model, drawings to a glyph model
results_view the playground's results: cards, confusion matrix, weights, "why this prediction?"
messages     every sentence the app shows, in English (messages_zh_cn: the same keys in Chinese)
language     which language a session speaks (?lang=, PARAMEMBED_LANG, the browser) and its picker
run_text     what the curves and train pages say about a run, in the session's language
fonts        the Chinese font the app serves, for pages and figures
"""
