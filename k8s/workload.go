package k8s

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workload wraps the Pod as kind asks (export k8s --kind): a Job runs it
// once to completion, never again on failure (spawn's own semantics);
// a Deployment keeps one replica running, restarted when it ends, which
// a Deployment requires. It returns the object and how the manifest's
// first line names it.
func Workload(pod *corev1.Pod, kind string) (any, string) {
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels(pod), Annotations: pod.Annotations},
		Spec:       *pod.Spec.DeepCopy(),
	}
	meta := metav1.ObjectMeta{Name: pod.Name, Labels: pod.Labels}
	switch kind {
	case "job":
		backoff := int32(0)
		return &batchv1.Job{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: meta,
			Spec:       batchv1.JobSpec{BackoffLimit: &backoff, Template: template},
		}, "a Job"
	case "deployment":
		one := int32(1)
		template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta,
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": pod.Name}},
				Template: template,
			},
		}, "a Deployment"
	}
	return pod, "a Pod"
}

// podLabels are the Pod's labels and the name a Deployment selects by.
func podLabels(pod *corev1.Pod) map[string]string {
	l := map[string]string{"app.kubernetes.io/name": pod.Name}
	for k, v := range pod.Labels {
		l[k] = v
	}
	return l
}
