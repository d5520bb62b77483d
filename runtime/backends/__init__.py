"""Storage backends behind the repos."""
