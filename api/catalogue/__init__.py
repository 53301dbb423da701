"""REST API of the catalogue (数据资源目录): categories, resources and their versions, data
items and quality, data products, listings (挂牌) and certificates.

Views resolve what the URL and the body name, call one service, and answer with the
object and the ledger entry the service appended (``entry`` is null when the action is
not a public act, e.g. a draft). Visibility comes from ``catalog.selectors``: what you
may not see looks missing (404).
"""
