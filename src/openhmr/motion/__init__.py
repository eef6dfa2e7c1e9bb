"""Video -> motion: follow one person across frames, smooth the poses over time, and write
the motion as a BVH on the CMU skeleton (Anny's ``cmu_mb`` rig)."""
