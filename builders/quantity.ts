// Kubernetes resource quantities ("500m", "512Mi", "1.5", "2e3") as numbers, for reading pod
// resources. The parser itself is api/v1/quantity.ts, a port of the API server's own
// (resource.ParseQuantity): the CRD's rules use it too, and builders/ may import from api/, not the
// other way round. An invalid quantity throws, with the API server's message.
export { parseQuantity, parseQuantityExact, isQuantity, QuantityError } from "../api/v1/quantity";
