"""Share links: read-only public pages of a comparison or a set, their previews and outside votes."""
