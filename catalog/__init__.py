"""Data resources (数据资源目录), versions, data items, data products and listings."""
