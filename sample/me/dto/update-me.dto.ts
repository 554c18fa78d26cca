import { IsAccountEmail, IsGivenPassword } from '../../common/validation.js';

export class UpdateMeDto {
  @IsAccountEmail()
  email: string;

  @IsGivenPassword()
  currentPassword: string;
}
