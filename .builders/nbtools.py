import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

def build(cells, path):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        src = src.strip("\n")
        nb.cells.append(new_markdown_cell(src) if kind == "md" else new_code_cell(src))
    nbformat.write(nb, path)

def setup_cell(extra_imports: str) -> str:
    return '''# Setup. On Colab (or any Python without minisora) this installs the course package first.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("minisora") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/minisora/minisora"], check=True)

''' + extra_imports.strip("\n")

TIMING = '''import os
import platform

cpu = platform.processor() or platform.machine()
if os.path.exists("/proc/cpuinfo"):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), cpu)
minutes = (time.perf_counter() - start_time) / 60
print(f"this lesson ran in {minutes:.1f} min in {'fast' if FAST else 'full'} mode on {device} "
      f"({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads), torch {torch.__version__}")'''
