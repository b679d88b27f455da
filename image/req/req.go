// Package req is what nsh asks nsh-image and what it answers, as JSON on
// the helper's stdin and stdout. nsh links only this: the image formats
// (image-spec, go-digest, whose initializers would run at every start of
// nsh) live in the helper, as the Kubernetes types live in nsh-k8s.
package req

// Request is one thing for nsh-image to do.
type Request struct {
	Op string `json:"op"` // inspect, unpack, user, commit

	// inspect, unpack: the image as the user named it, and for unpack
	// which layer goes into Dir, an empty directory nsh made.
	Ref   string `json:"ref,omitempty"`
	Layer int    `json:"layer,omitempty"`
	Dir   string `json:"dir,omitempty"`

	// user: the image config's User, looked up in Lowers (top first).
	User   string   `json:"user,omitempty"`
	Lowers []string `json:"lowers,omitempty"`

	// commit: the layout to write into Dir.
	Commit *Commit `json:"commit,omitempty"`
}

// Image is what inspect answers: the manifest's digest, the layers'
// diff_ids (bottom first) and the process the config names.
type Image struct {
	Digest  string   `json:"digest"`
	DiffIDs []string `json:"diffIDs"`
	Process Process  `json:"process"`
}

// Process is an image config's process.
type Process struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// IDs is what user answers.
type IDs struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Commit is an image to write: layers bottom first, each a tree written
// as a layer tar (whiteouts from overlayfs's marks), and its config.
type Commit struct {
	Layers  []CommitLayer `json:"layers"`
	Process Process       `json:"process"`
	Created int64         `json:"created"` // seconds since 1970: the image's time
	Tag     string        `json:"tag"`
}

// CommitLayer is one layer: the tree, what made it, and the latest time
// an entry may carry (nil: as they are).
type CommitLayer struct {
	Dir       string `json:"dir"`
	CreatedBy string `json:"createdBy"`
	Clamp     *int64 `json:"clamp,omitempty"`
}

// Written is what commit answers.
type Written struct {
	Manifest string  `json:"manifest"`
	Layers   []Layer `json:"layers"`
}

// Layer is a written layer's digest and size.
type Layer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}
