"""The HTML report: figures (matplotlib) and HTML pieces shared by pytest-html and ``clipshift report``."""
