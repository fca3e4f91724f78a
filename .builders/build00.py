import sys; sys.path.insert(0, "/tmp/nb")
exec(open("/tmp/nb/lesson00.py").read())
exec(open("/tmp/nb/lesson00_b.py").read())
# imports needed by section 10 that earlier cells did not bring in
cells[cells.index(next(c for c in cells if "from minisora.data import canonical_caption" in c.source))].source = cells[cells.index(next(c for c in cells if "from minisora.data import canonical_caption" in c.source))].source.replace(
    "from minisora.data import canonical_caption, free_caption, parse_caption, sample_scene",
    "from minisora.data import canonical_caption, free_caption, parse_caption, render_scene, sample_scene")
write("/work/main/lessons/00_setup_and_data.ipynb", cells + judge_cells)
print(len(cells + judge_cells), "cells")
