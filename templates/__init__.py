"""The architecture templates, installed as the package ``designer.template_files``.

See ``designer.editing.templates``.
"""
