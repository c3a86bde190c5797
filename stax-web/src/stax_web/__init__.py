"""stax-web: ``stax serve``, a recording's views in the browser, served from this machine only."""
