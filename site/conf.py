"""Sphinx configuration of the course website (``make site``; sources written by :mod:`labs_lib.site`).

The repository's path comes from :mod:`labs_lib.links` (the one place it is written), so the launch buttons in
each lesson's header open the same repository, branch and notebook as the badges inside the lesson.
"""

from labs_lib import __version__, links

project = "Deep learning labs"
author = "The course's authors"
copyright = "the course's authors"  # noqa: A001 - Sphinx's name
release = __version__

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_static_path = ["_static"]
html_css_files = ["labs.css"]
html_title = "Deep learning labs"
html_last_updated_fmt = ""
html_show_sourcelink = False

# The notebooks arrive executed (labs_lib.site runs them with papermill, two at a time, without allow_errors).
nb_execution_mode = "off"
nb_output_stderr = "remove"  # TensorFlow's log lines are not part of a lesson
nb_ipywidgets_js = {}  # widgets are replaced by their static pictures: no widget JavaScript from a CDN
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # lessons start at "# Title" and some use "###" under "##"

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": f"https://github.com/{links.REPOSITORY}",
    "repository_branch": links.BRANCH,
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
