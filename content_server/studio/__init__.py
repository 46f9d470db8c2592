"""Studio: content a community office makes in minutes (designed templates, PDF notices, live data).

The modules here are pure of HTTP and ORM: they take field values, PDF bytes or fetched data and
return rendered slides (PNG bytes) or a refusal; the feature's services store the results as
ordinary media items.
"""
