"""``openhmr predict``: photos and videos in; per person a box, 2D keypoints, 3D joints, a mesh
and the camera out."""
