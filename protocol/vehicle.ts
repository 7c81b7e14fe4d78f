/** What a rider rides: the travel-time model's speed for it (`vehicleSpeedMps`). */
export const VEHICLE_TYPES = ['bicycle', 'motorcycle', 'scooter', 'car', 'on_foot'] as const;
export type VehicleType = (typeof VEHICLE_TYPES)[number];
