"""The HTML report of ``qdqtool report``: data gathering, SVG drawings (own layout or Graphviz), the page."""
