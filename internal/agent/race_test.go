//go:build race

package agent

// raceEnabled: the race runtime multiplies memory use, so RSS goals are not checked under it.
const raceEnabled = true
