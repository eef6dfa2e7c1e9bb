"""Silhouettes: the projected mesh's differentiable soft silhouette, person and body-part
masks, and the losses between them."""
