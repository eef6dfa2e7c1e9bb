"""``openhmr serve``: a web demo (Gradio) of photo -> 3D people and video -> BVH motion."""
