"""Build hook: the wheel carries the top-level `kernels/` and `reports/templates/` folders.

The project's layout keeps them at the top of the repository; an installed cibench finds them
inside the package at `cibench/_resources/` (see cibench/resources.py). Everything else is in
setup.cfg.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: (folder in the repository, folder inside the installed package)
RESOURCES = (("kernels", "cibench/_resources/kernels"),
             ("reports/templates", "cibench/_resources/reports/templates"))
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the repository's folders directly
            return
        for source, target in RESOURCES:
            dest = Path(self.build_lib) / target
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(ROOT / source, dest, ignore=IGNORE)


setup(cmdclass={"build_py": BuildWithResources})
